#include "tools/torture/history.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/json.h"

namespace vigil::torture {
namespace {

constexpr size_t kMaxProblems = 20;

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPending:
      return "invoke";
    case Outcome::kOk:
      return "ok";
    case Outcome::kFail:
      return "fail";
    case Outcome::kUnknown:
      return "unknown";
  }
  return "?";
}

void Problem(CheckReport* report, std::string text) {
  if (report->problems.size() < kMaxProblems) {
    report->problems.push_back(std::move(text));
  }
}

}  // namespace

History::History(const std::string& path) {
  if (!path.empty()) file_ = std::fopen(path.c_str(), "w");
}

History::~History() {
  absl::MutexLock lock(&mu_);
  if (file_ != nullptr) std::fclose(file_);
}

void History::WriteLine(const std::string& line) {
  if (file_ == nullptr) return;
  std::fputs(line.c_str(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

uint64_t History::Invoke(Invocation invocation) {
  absl::MutexLock lock(&mu_);
  invocation.op = ops_.size() + 1;
  invocation.outcome = Outcome::kPending;
  WriteLine(base::DumpJson({{"op", invocation.op},
                            {"type", "invoke"},
                            {"cycle", invocation.cycle},
                            {"client", invocation.client},
                            {"stream", invocation.stream},
                            {"expected", invocation.expected},
                            {"idempotency_key", invocation.idempotency_key},
                            {"events", invocation.event_ids}}));
  ops_.push_back(std::move(invocation));
  return ops_.back().op;
}

void History::Complete(uint64_t op, const Invocation& completed) {
  absl::MutexLock lock(&mu_);
  Invocation& invocation = ops_.at(op - 1);
  invocation.outcome = completed.outcome;
  invocation.first_position = completed.first_position;
  invocation.last_position = completed.last_position;
  invocation.next_expected_revision = completed.next_expected_revision;
  invocation.completed_unix_us = completed.completed_unix_us;
  invocation.error = completed.error;
  base::Json line = {{"op", op}, {"type", OutcomeName(completed.outcome)}};
  if (completed.outcome == Outcome::kOk) {
    line["first_position"] = completed.first_position;
    line["last_position"] = completed.last_position;
    line["next_expected_revision"] = completed.next_expected_revision;
  } else {
    line["error"] = completed.error;
  }
  WriteLine(base::DumpJson(line));
}

std::vector<Invocation> History::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return ops_;
}

CheckReport CheckHistory(const std::vector<Invocation>& ops,
                         const std::vector<LoggedEvent>& events,
                         uint64_t from_position) {
  CheckReport report;
  // Where each event id was found (several places: a duplicate).
  std::map<std::string, std::vector<const LoggedEvent*>> found;
  uint64_t expected_position = from_position;
  for (const LoggedEvent& event : events) {
    if (event.position != expected_position) {
      const uint64_t missing = event.position > expected_position
                                   ? event.position - expected_position
                                   : 1;
      report.gaps += missing;
      Problem(&report, absl::StrCat("gap: position ", expected_position,
                                    " expected, ", event.position, " read"));
    }
    expected_position = event.position + 1;
    found[event.event_id].push_back(&event);
  }

  std::map<std::string, bool> claimed;  // event ids some invocation wrote
  for (const Invocation& op : ops) {
    if (op.outcome == Outcome::kPending) continue;
    for (const std::string& id : op.event_ids) claimed[id] = true;
    size_t present = 0;
    for (const std::string& id : op.event_ids) {
      auto it = found.find(id);
      if (it == found.end()) continue;
      ++present;
      if (it->second.size() > 1) {
        report.duplicates += it->second.size() - 1;
        Problem(&report, absl::StrCat("duplicate: op ", op.op, " event ", id,
                                      " found ", it->second.size(), " times"));
      }
    }
    const size_t n = op.event_ids.size();
    switch (op.outcome) {
      case Outcome::kOk: {
        if (op.last_position < from_position) break;  // checked before
        ++report.acknowledged_appends;
        report.acknowledged_events += n;
        const uint64_t first_revision = op.next_expected_revision + 1 - n;
        for (size_t i = 0; i < n; ++i) {
          const uint64_t position = op.first_position + i;
          auto it = found.find(op.event_ids[i]);
          const LoggedEvent* event =
              it == found.end() ? nullptr : it->second.front();
          std::string wrong;
          if (event == nullptr) {
            wrong = "missing";
          } else if (event->position != position) {
            wrong = absl::StrCat("at position ", event->position);
          } else if (event->stream != op.stream ||
                     event->revision != first_revision + i) {
            wrong = absl::StrCat("in ", event->stream, "@", event->revision);
          } else if (event->type != op.type || event->data != op.data[i]) {
            wrong = "with other bytes";
          }
          if (!wrong.empty()) {
            ++report.lost;
            Problem(&report,
                    absl::StrCat("lost: op ", op.op, " (", op.stream, ") event ",
                                 i, " acknowledged at position ", position,
                                 ": ", wrong));
          }
        }
        break;
      }
      case Outcome::kFail:
        if (present > 0) {
          ++report.failed_appeared;
          Problem(&report, absl::StrCat("op ", op.op, " was refused (",
                                        op.error, ") but ", present, " of ",
                                        n, " events are in the log"));
        }
        break;
      case Outcome::kUnknown:
        if (present == 0) {
          ++report.unknown_vanished;
        } else {
          ++report.unknown_appeared;
        }
        break;
      case Outcome::kPending:
        break;
    }
    if (present > 0 && present < n) {
      ++report.torn;
      Problem(&report, absl::StrCat("torn: op ", op.op, " has ", present,
                                    " of its ", n, " events in the log"));
    }
  }
  for (const auto& [id, places] : found) {
    if (!claimed.count(id)) {
      report.foreign += places.size();
      Problem(&report, absl::StrCat("foreign: event ", id, " at position ",
                                    places.front()->position,
                                    " was written by no invocation"));
    }
  }
  return report;
}

}  // namespace vigil::torture
