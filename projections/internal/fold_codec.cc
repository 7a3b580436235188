#include "projections/internal/fold_codec.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "projections/internal/row_codec.h"
#include "projections/row_columns.h"

namespace vigil::projections::internal {
namespace {

void AppendComponent(std::string_view part, std::string* key) {
  absl::StrAppend(key, part.size(), ":");
  key->append(part);
}

// Splits a key's two components (after the kind byte); nullopt when
// malformed. Views into `key`.
std::optional<std::pair<std::string_view, std::string_view>> SplitKey(
    std::string_view key) {
  std::string_view parts[2];
  key.remove_prefix(1);
  for (std::string_view& part : parts) {
    const size_t colon = key.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    size_t length = 0;
    const std::string_view digits = key.substr(0, colon);
    if (!absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()),
                          &length) ||
        key.size() - colon - 1 < length) {
      return std::nullopt;
    }
    part = key.substr(colon + 1, length);
    key.remove_prefix(colon + 1 + length);
  }
  if (!key.empty()) return std::nullopt;
  return std::pair(parts[0], parts[1]);
}

absl::Status Damaged(std::string_view key) {
  return absl::DataLossError(
      absl::StrCat("snapshot entry ", std::string(key), " does not decode"));
}

}  // namespace

std::string AgentKey(std::string_view agent_id) {
  std::string key(1, kAgentKind);
  AppendComponent(agent_id, &key);
  return key;
}

std::string TaskKey(std::string_view task_id) {
  std::string key(1, kTaskKind);
  AppendComponent(task_id, &key);
  return key;
}

std::string PairKey(char kind, const AgentPair& pair) {
  std::string key(1, kind);
  AppendComponent(pair.first, &key);
  AppendComponent(pair.second, &key);
  return key;
}

std::string MinuteKeyOf(char kind, const MinuteKey& minute) {
  std::string key(1, kind);
  AppendComponent(minute.first, &key);
  AppendComponent(absl::StrCat(minute.second), &key);
  return key;
}

std::string SpanKeyOf(const SpanKey& span) {
  std::string key = TraceKeyPrefix(span.first);
  AppendComponent(span.second, &key);
  return key;
}

std::string TraceKeyPrefix(std::string_view trace_id) {
  std::string key(1, kSpanKind);
  AppendComponent(trace_id, &key);
  return key;
}

std::string EncodeSpan(const SpanRow& span) {
  return EncodeRow(span, SpanTable());
}

std::string EncodeAgent(const AgentRow& row) {
  return EncodeRow(row, AgentTable());
}

std::string EncodeTask(const TaskRow& row) {
  return EncodeRow(row, TaskTable());
}

std::string EncodePair(const PairCounts& c) {
  return EncodeRow(c, CoordinationTable());
}

std::string EncodeMessages(const MessageCounts& c) {
  return EncodeRow(c, MessageTable());
}

std::string EncodeAgentMinute(const AgentMinute& m) {
  return EncodeRow(m, AgentMinuteTable());
}

std::string EncodeUsageMinute(const UsageMinute& u) {
  return EncodeRow(u, UsageTable());
}

std::string IndexKey() { return std::string(1, kIndexKind); }

std::string EncodeIndex(const SnapshotIndex& index) {
  Writer out;
  out.U64(index.snapshot).U64(index.previous).U64(index.task_count);
  out.U64(index.span_count).U64(index.created.size());
  for (const auto& [first_position, task_id] : index.created) {
    out.U64(first_position).Str(task_id);
  }
  return out.Done();
}

std::optional<SnapshotIndex> DecodeIndex(std::string_view value) {
  SnapshotIndex index;
  uint64_t created = 0;
  Reader in(value);
  in.U64(&index.snapshot).U64(&index.previous).U64(&index.task_count);
  in.U64(&index.span_count).U64(&created);
  // Each entry is at least 16 bytes: a count past that is damage, not a
  // reason to allocate.
  if (created > value.size() / 16) return std::nullopt;
  index.created.resize(created);
  for (auto& [first_position, task_id] : index.created) {
    in.U64(&first_position).Str(&task_id);
  }
  if (!in.ok()) return std::nullopt;
  return index;
}

std::string PageRowsKey() { return std::string(1, kPageRowsKind); }

std::string EncodePageRows(const PageRows& rows) {
  Writer out;
  out.U64(rows.snapshot).U64(rows.base).U64(rows.entries.size());
  for (const auto& [key, value] : rows.entries) out.Str(key).Str(value);
  return out.Done();
}

std::optional<PageRows> DecodePageRows(std::string_view value) {
  PageRows rows;
  uint64_t count = 0;
  Reader in(value);
  in.U64(&rows.snapshot).U64(&rows.base).U64(&count);
  // Each entry is at least 16 bytes.
  if (count > value.size() / 16) return std::nullopt;
  rows.entries.resize(count);
  for (auto& [key, entry] : rows.entries) in.View(&key).View(&entry);
  if (!in.ok()) return std::nullopt;
  return rows;
}

bool DecodeTaskInto(std::string_view value, TaskRow* row) {
  return DecodeRowInto(value, TaskTable(), row);
}

absl::Status DecodeEntry(std::string_view key, std::string_view value,
                         AgentFold* agents, TaskFold* tasks,
                         MetricsFold* metrics, TraceFold* traces) {
  if (key.empty()) return Damaged(key);
  switch (key[0]) {
    case kIndexKind:
      if (key.size() != 1 || !DecodeIndex(value).has_value()) {
        return Damaged(key);
      }
      return absl::OkStatus();
    case kPageRowsKind:
      // Copies of entity entries, for the scrubber's page only.
      if (key.size() != 1) return Damaged(key);
      return absl::OkStatus();
    case kAgentKind: {
      std::optional<AgentRow> row = DecodeRow(value, AgentTable());
      if (!row.has_value()) return Damaged(key);
      agents->Seed(*std::move(row));
      return absl::OkStatus();
    }
    case kTaskKind: {
      if (value.empty()) return absl::OkStatus();  // removed
      std::optional<TaskRow> row = DecodeRow(value, TaskTable());
      if (!row.has_value()) return Damaged(key);
      tasks->Seed(*std::move(row));
      return absl::OkStatus();
    }
    case kSpanKind: {
      std::optional<SpanRow> row = DecodeRow(value, SpanTable());
      if (!row.has_value()) return Damaged(key);
      if (traces != nullptr) traces->Seed(*std::move(row));
      return absl::OkStatus();
    }
    default:
      break;
  }
  std::optional<std::pair<std::string_view, std::string_view>> parts =
      SplitKey(key);
  if (!parts.has_value()) return Damaged(key);
  const std::string first(parts->first);
  const std::string_view second = parts->second;
  switch (key[0]) {
    case kPairKind: {
      std::optional<PairCounts> c = DecodeRow(value, CoordinationTable());
      if (!c.has_value()) return Damaged(key);
      tasks->SeedPair({first, std::string(second)}, *c);
      return absl::OkStatus();
    }
    case kMessageKind: {
      std::optional<MessageCounts> c = DecodeRow(value, MessageTable());
      if (!c.has_value()) return Damaged(key);
      tasks->SeedMessages({first, std::string(second)}, *c);
      return absl::OkStatus();
    }
    case kAgentMinuteKind:
    case kUsageMinuteKind: {
      int64_t minute = 0;
      if (!absl::SimpleAtoi(absl::string_view(second.data(), second.size()),
                            &minute)) {
        return Damaged(key);
      }
      if (key[0] == kAgentMinuteKind) {
        std::optional<AgentMinute> m = DecodeRow(value, AgentMinuteTable());
        if (!m.has_value()) return Damaged(key);
        metrics->SeedAgentMinute({first, minute}, *m);
      } else {
        std::optional<UsageMinute> u = DecodeRow(value, UsageTable());
        if (!u.has_value()) return Damaged(key);
        metrics->SeedUsageMinute({first, minute}, *u);
      }
      return absl::OkStatus();
    }
    default:
      return Damaged(key);
  }
}

}  // namespace vigil::projections::internal
