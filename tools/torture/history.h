// The Jepsen-style record of a torture run, and its checker. Every append a
// client sends is logged when it is invoked and again when it completes:
// ok (acknowledged, with its positions), fail (a definite refusal: nothing
// may have been appended) or unknown (the server died, the disk failed, a
// deadline passed: it may or may not have been appended). After a restart
// the checker compares the history with the events the log holds:
//   lost             acknowledged events missing, moved or changed
//   gaps             positions missing below the highest one read
//   duplicates       events of one invocation found at more than one place
//   failed_appeared  events of a definitely refused append found (a bug)
//   foreign          events no invocation wrote
//   torn             an append found in part (atomicity broken)
//   unknown_appeared / unknown_vanished: the unknown outcomes, resolved.
//     Both are allowed and only counted.
// Events are matched by their event ids, which the clients generate.

#ifndef VIGIL_TOOLS_TORTURE_HISTORY_H_
#define VIGIL_TOOLS_TORTURE_HISTORY_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vigil::torture {

enum class Outcome { kPending, kOk, kFail, kUnknown };

// One append as a client sent it, and how it ended.
struct Invocation {
  uint64_t op = 0;  // set by History::Invoke; unique over a run
  int cycle = 0;
  int client = 0;
  std::string stream;
  std::string expected;  // "any", "no_stream" or the exact revision
  std::string idempotency_key;
  std::string type;
  std::vector<std::string> event_ids;
  std::vector<std::string> data;

  Outcome outcome = Outcome::kPending;
  uint64_t first_position = 0;  // kOk only
  uint64_t last_position = 0;
  uint64_t next_expected_revision = 0;  // the last event's revision
  int64_t completed_unix_us = 0;
  std::string error;  // kFail / kUnknown: the status
};

// An event as read back from the log.
struct LoggedEvent {
  uint64_t position = 0;
  uint64_t revision = 0;
  std::string stream;
  std::string event_id;
  std::string type;
  std::string data;
};

// Thread-safe. With a path, every invocation and completion is also written
// as one line of NDJSON ({"op","type":"invoke"|"ok"|"fail"|"unknown",...}),
// flushed per line, for reading after the run.
class History {
 public:
  explicit History(const std::string& path);
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Records `invocation` (its outcome pending); returns its op id.
  uint64_t Invoke(Invocation invocation);
  // Records how op `op` ended. `completed` carries the outcome, positions,
  // revision and error; other fields are ignored.
  void Complete(uint64_t op, const Invocation& completed);

  // A copy of every invocation, in op order.
  std::vector<Invocation> Snapshot() const;

 private:
  void WriteLine(const std::string& line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<Invocation> ops_ ABSL_GUARDED_BY(mu_);
  std::FILE* file_ ABSL_GUARDED_BY(mu_) = nullptr;
};

struct CheckReport {
  uint64_t acknowledged_appends = 0;  // ok invocations checked
  uint64_t acknowledged_events = 0;
  uint64_t lost = 0;
  uint64_t gaps = 0;
  uint64_t duplicates = 0;
  uint64_t failed_appeared = 0;
  uint64_t foreign = 0;
  uint64_t torn = 0;
  uint64_t unknown_appeared = 0;
  uint64_t unknown_vanished = 0;
  std::vector<std::string> problems;  // the first few, for people

  // No broken promise (the unknown outcomes are allowed).
  bool ok() const {
    return lost == 0 && gaps == 0 && duplicates == 0 && failed_appeared == 0 &&
           foreign == 0 && torn == 0;
  }
};

// Checks `ops` against `events`, which must be every event of the log from
// position `from_position` on, in position order. Invocations whose events
// all lie below `from_position` (known from their acknowledgement) are
// skipped; an unknown or failed invocation is judged by whether its events
// are among `events`, so the caller passes only invocations made after
// position `from_position - 1` was the head. Pending invocations are
// ignored. Read from position 1 it is the whole check.
CheckReport CheckHistory(const std::vector<Invocation>& ops,
                         const std::vector<LoggedEvent>& events,
                         uint64_t from_position);

}  // namespace vigil::torture

#endif  // VIGIL_TOOLS_TORTURE_HISTORY_H_
