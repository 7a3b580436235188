#include "projections/internal/fold_codec.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "projections/row_columns.h"

namespace vigil::projections::internal {
namespace {

void AppendComponent(std::string_view part, std::string* key) {
  absl::StrAppend(key, part.size(), ":");
  key->append(part);
}

// Splits a key's components (after the kind byte); nullopt when malformed.
std::optional<std::vector<std::string>> SplitKey(std::string_view key) {
  std::vector<std::string> parts;
  key.remove_prefix(1);
  while (!key.empty()) {
    const size_t colon = key.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    size_t length = 0;
    if (!absl::SimpleAtoi(std::string(key.substr(0, colon)), &length) ||
        key.size() - colon - 1 < length) {
      return std::nullopt;
    }
    parts.emplace_back(key.substr(colon + 1, length));
    key.remove_prefix(colon + 1 + length);
  }
  return parts;
}

class Writer {
 public:
  Writer& I64(int64_t v) {
    uint64_t u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(u >> (8 * i)));
    return *this;
  }
  Writer& U64(uint64_t v) { return I64(static_cast<int64_t>(v)); }
  Writer& F64(double v) {
    uint64_t u;
    std::memcpy(&u, &v, sizeof u);
    return U64(u);
  }
  Writer& Bool(bool v) {
    out_.push_back(v ? 1 : 0);
    return *this;
  }
  Writer& Str(std::string_view s) {
    U64(s.size());
    out_.append(s);
    return *this;
  }
  std::string Done() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  Reader& I64(int64_t* v) {
    uint64_t u = 0;
    U64(&u);
    *v = static_cast<int64_t>(u);
    return *this;
  }
  Reader& U64(uint64_t* v) {
    if (in_.size() < 8) return Fail();
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i) {
      u |= static_cast<uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    }
    in_.remove_prefix(8);
    *v = u;
    return *this;
  }
  Reader& F64(double* v) {
    uint64_t u = 0;
    U64(&u);
    std::memcpy(v, &u, sizeof u);
    return *this;
  }
  Reader& Bool(bool* v) {
    if (in_.empty()) return Fail();
    *v = in_[0] != 0;
    in_.remove_prefix(1);
    return *this;
  }
  Reader& Str(std::string* s) {
    uint64_t size = 0;
    U64(&size);
    if (in_.size() < size) return Fail();
    s->assign(in_.substr(0, size));
    in_.remove_prefix(size);
    return *this;
  }
  bool ok() const { return ok_ && in_.empty(); }
  bool at_end() const { return in_.empty(); }

 private:
  Reader& Fail() {
    ok_ = false;
    in_ = {};
    return *this;
  }
  std::string_view in_;
  bool ok_ = true;
};

// An entity row: its columns in table order (row_columns.h).
template <typename Row>
std::string EncodeRow(const Row& row, const RowTable<Row>& table) {
  Writer out;
  for (const RowColumn<Row>& c : table.columns) {
    switch (c.type) {
      case ColumnType::kKey:
      case ColumnType::kText:
      case ColumnType::kJson:
        out.Str(row.*c.text);
        break;
      case ColumnType::kInt:
      case ColumnType::kTime:
        out.I64(row.*c.int64);
        break;
      case ColumnType::kPosition:
        out.U64(row.*c.position);
        break;
      case ColumnType::kDouble:
        out.F64(row.*c.real);
        break;
      case ColumnType::kOptionalInt:
        out.Bool(row.*c.present).I64(row.*c.int64);
        break;
    }
  }
  return out.Done();
}

// The inverse of EncodeRow. An entry written before a column was added
// ends after its table's first `snapshot_columns`: the rest keep their
// defaults. nullopt for bytes that do not decode.
template <typename Row>
std::optional<Row> DecodeRow(std::string_view value,
                             const RowTable<Row>& table) {
  Row row;
  Reader in(value);
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i >= table.snapshot_columns && in.at_end()) break;
    const RowColumn<Row>& c = table.columns[i];
    switch (c.type) {
      case ColumnType::kKey:
      case ColumnType::kText:
      case ColumnType::kJson:
        in.Str(&(row.*c.text));
        break;
      case ColumnType::kInt:
      case ColumnType::kTime:
        in.I64(&(row.*c.int64));
        break;
      case ColumnType::kPosition:
        in.U64(&(row.*c.position));
        break;
      case ColumnType::kDouble:
        in.F64(&(row.*c.real));
        break;
      case ColumnType::kOptionalInt:
        in.Bool(&(row.*c.present)).I64(&(row.*c.int64));
        break;
    }
  }
  if (!in.ok()) return std::nullopt;
  return row;
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

std::string EncodeAgent(const AgentRow& row) {
  return EncodeRow(row, AgentTable());
}

std::string EncodeTask(const TaskRow& row) {
  return EncodeRow(row, TaskTable());
}

std::string EncodePair(const PairCounts& c) {
  return Writer()
      .I64(c.assigned).I64(c.completed).I64(c.failed)
      .I64(c.complete_time_sum_us).I64(c.complete_time_count)
      .Done();
}

std::string EncodeMessages(const MessageCounts& c) {
  return Writer()
      .I64(c.messages).Str(c.last_kind).Str(c.last_summary)
      .I64(c.last_time_us).U64(c.last_position)
      .Done();
}

std::string EncodeAgentMinute(const AgentMinute& m) {
  return Writer()
      .I64(m.events).I64(m.heartbeats).F64(m.cpu_pct_sum).F64(m.mem_bytes_sum)
      .F64(m.queue_depth_sum).I64(m.llm_calls).I64(m.input_tokens)
      .I64(m.output_tokens).F64(m.cost_usd).I64(m.tool_calls)
      .I64(m.tool_failures).I64(m.tasks_completed).I64(m.tasks_failed)
      .Done();
}

std::string EncodeUsageMinute(const UsageMinute& u) {
  return Writer()
      .I64(u.calls).I64(u.input_tokens).I64(u.output_tokens).F64(u.cost_usd)
      .F64(u.latency_ms_sum)
      .Done();
}

absl::Status DecodeEntry(std::string_view key, std::string_view value,
                         AgentFold* agents, TaskFold* tasks,
                         MetricsFold* metrics) {
  if (key.empty()) return Damaged(key);
  switch (key[0]) {
    case kAgentKind: {
      std::optional<AgentRow> row = DecodeRow(value, AgentTable());
      if (!row.has_value()) return Damaged(key);
      agents->Seed(*std::move(row));
      return absl::OkStatus();
    }
    case kTaskKind: {
      std::optional<TaskRow> row = DecodeRow(value, TaskTable());
      if (!row.has_value()) return Damaged(key);
      tasks->Seed(*std::move(row));
      return absl::OkStatus();
    }
    default:
      break;
  }
  std::optional<std::vector<std::string>> parts = SplitKey(key);
  if (!parts.has_value() || parts->size() != 2) return Damaged(key);
  std::string& first = (*parts)[0];
  std::string& second = (*parts)[1];
  switch (key[0]) {
    case kPairKind: {
      PairCounts c;
      Reader in(value);
      in.I64(&c.assigned).I64(&c.completed).I64(&c.failed)
          .I64(&c.complete_time_sum_us).I64(&c.complete_time_count);
      if (!in.ok()) return Damaged(key);
      tasks->SeedPair({std::move(first), std::move(second)}, c);
      return absl::OkStatus();
    }
    case kMessageKind: {
      MessageCounts c;
      Reader in(value);
      in.I64(&c.messages).Str(&c.last_kind).Str(&c.last_summary)
          .I64(&c.last_time_us).U64(&c.last_position);
      if (!in.ok()) return Damaged(key);
      tasks->SeedMessages({std::move(first), std::move(second)}, c);
      return absl::OkStatus();
    }
    case kAgentMinuteKind:
    case kUsageMinuteKind: {
      int64_t minute = 0;
      if (!absl::SimpleAtoi(second, &minute)) return Damaged(key);
      Reader in(value);
      if (key[0] == kAgentMinuteKind) {
        AgentMinute m;
        in.I64(&m.events).I64(&m.heartbeats).F64(&m.cpu_pct_sum)
            .F64(&m.mem_bytes_sum).F64(&m.queue_depth_sum).I64(&m.llm_calls)
            .I64(&m.input_tokens).I64(&m.output_tokens).F64(&m.cost_usd)
            .I64(&m.tool_calls).I64(&m.tool_failures).I64(&m.tasks_completed)
            .I64(&m.tasks_failed);
        if (!in.ok()) return Damaged(key);
        metrics->SeedAgentMinute({std::move(first), minute}, m);
      } else {
        UsageMinute u;
        in.I64(&u.calls).I64(&u.input_tokens).I64(&u.output_tokens)
            .F64(&u.cost_usd).F64(&u.latency_ms_sum);
        if (!in.ok()) return Damaged(key);
        metrics->SeedUsageMinute({std::move(first), minute}, u);
      }
      return absl::OkStatus();
    }
    default:
      return Damaged(key);
  }
}

}  // namespace vigil::projections::internal
