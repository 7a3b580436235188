// The snapshot bytes of agents, tasks, coordination pairs and messages stay what they were before the
// rows were described in projections/row_columns.h: snapshots on disk
// (eventlog/FORMAT.md "Snapshots", "folds-v1") must still decode, and equal
// states must keep giving equal bytes (the digests of verify --state-at).

#include "projections/internal/fold_codec.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "projections/folds.h"
#include "projections/internal/row_codec.h"
#include "projections/row_columns.h"

namespace vigil::projections::internal {
namespace {

// Written by the codec of commit cb8c837, field by field.
const std::string kAgentBytes = absl::HexStringToBytes(
      "02000000000000007731"  // agent_id "w1"
      "0600000000000000776f726b6572"  // role "worker"
      "0500000000000000436f646572"  // name "Coder"
      "0000000000000000"  // model ""
      "040000000000000062757379"  // status "busy"
      "0000000000000000"  // stopped_reason ""
      "02000000000000007431"  // current_task_id "t1"
      "80c4804159440600"  // registered_time_us
      "00499f4159440600"  // last_heartbeat_time_us
      "0000000000803e40"  // cpu_pct 30.5
      "b80b000000000000"  // mem_bytes 3000
      "0200000000000000"  // queue_depth 2
      "c00fcd4159440600"  // updated_time_us
      "0700000000000000"  // last_position 7
);

const std::string kTaskBytes = absl::HexStringToBytes(
      "02000000000000007431"  // task_id "t1"
      "0500000000000000"  // first_position 5
      "02000000000000006d31"  // manager_id "m1"
      "02000000000000007731"  // worker_id "w1"
      "08000000000000005772697465206974"  // title "Write it"
      "01"  // has_priority
      "0200000000000000"  // priority 2
      "0000000000000000"  // parent_task_id ""
      "0900000000000000636f6d706c65746564"  // status "completed"
      "408bae4159440600"  // created_time_us
      "80cdbd4159440600"  // assigned_time_us
      "c00fcd4159440600"  // started_time_us
      "80df374259440600"  // finished_time_us
      "0000000000005940"  // progress 100
      "040000000000000068616c66"  // progress_note "half"
      "0b000000000000007b226c696e6573223a337d"  // result
      "0000000000000000"  // error ""
      "80df374259440600"  // updated_time_us
      "0e00000000000000"  // last_position 14
);

// Written by the codec of commit b70c4f9 (Writer calls), field by field.
const std::string kPairBytes = absl::HexStringToBytes(
      "0300000000000000"  // assigned 3
      "0200000000000000"  // completed 2
      "0100000000000000"  // failed 1
      "404b4c0000000000"  // complete_time_sum_us 5000000
      "0200000000000000"  // complete_time_count 2
);

const std::string kMessageBytes = absl::HexStringToBytes(
      "0400000000000000"  // messages 4
      "04000000000000006e6f7465"  // last_kind "note"
      "02000000000000006869"  // last_summary "hi"
      "c00fcd4159440600"  // last_time_us
      "0900000000000000"  // last_position 9
);

const std::string kUsageBytes = absl::HexStringToBytes(
      "0300000000000000"  // calls 3
      "6400000000000000"  // input_tokens 100
      "c800000000000000"  // output_tokens 200
      "000000000000f83f"  // cost_usd 1.5
      "0000000000c07240"  // latency_ms_sum 300
);

const std::string kAgentMinuteBytes = absl::HexStringToBytes(
      "0500000000000000"  // events 5
      "0200000000000000"  // heartbeats 2
      "0000000000804e40"  // cpu_pct_sum 61
      "000000000070b740"  // mem_bytes_sum 6000
      "0000000000001040"  // queue_depth_sum 4
      "0100000000000000"  // llm_calls 1
      "0a00000000000000"  // input_tokens 10
      "1400000000000000"  // output_tokens 20
      "000000000000d03f"  // cost_usd 0.25
      "0300000000000000"  // tool_calls 3
      "0100000000000000"  // tool_failures 1
      "0100000000000000"  // tasks_completed 1
      "0000000000000000"  // tasks_failed 0
);

AgentMinute Minute() {
  return {.events = 5, .heartbeats = 2, .cpu_pct_sum = 61,
          .mem_bytes_sum = 6000, .queue_depth_sum = 4, .llm_calls = 1,
          .input_tokens = 10, .output_tokens = 20, .cost_usd = 0.25,
          .tool_calls = 3, .tool_failures = 1, .tasks_completed = 1};
}

UsageMinute Usage() {
  return {.calls = 3, .input_tokens = 100, .output_tokens = 200,
          .cost_usd = 1.5, .latency_ms_sum = 300};
}

PairCounts Pair() {
  return {.assigned = 3, .completed = 2, .failed = 1,
          .complete_time_sum_us = 5000000, .complete_time_count = 2};
}

MessageCounts Messages() {
  return {.messages = 4, .last_kind = "note", .last_summary = "hi",
          .last_time_us = 1764000007000000, .last_position = 9};
}

AgentRow Agent() {
  return {.agent_id = "w1", .role = "worker", .name = "Coder",
          .status = "busy", .current_task_id = "t1",
          .registered_time_us = 1764000002000000,
          .last_heartbeat_time_us = 1764000004000000, .cpu_pct = 30.5,
          .mem_bytes = 3000, .queue_depth = 2,
          .updated_time_us = 1764000007000000, .last_position = 7};
}

TaskRow Task() {
  return {.task_id = "t1", .first_position = 5, .manager_id = "m1",
          .worker_id = "w1", .title = "Write it", .has_priority = true,
          .priority = 2, .status = "completed",
          .created_time_us = 1764000005000000,
          .assigned_time_us = 1764000006000000,
          .started_time_us = 1764000007000000,
          .finished_time_us = 1764000014000000, .progress = 100,
          .progress_note = "half", .result = R"({"lines":3})",
          .updated_time_us = 1764000014000000, .last_position = 14};
}

TEST(FoldCodecTest, EncodesAsBefore) {
  EXPECT_EQ(EncodeAgent(Agent()), kAgentBytes);
  EXPECT_EQ(EncodeTask(Task()), kTaskBytes);
  EXPECT_EQ(EncodePair(Pair()), kPairBytes);
  EXPECT_EQ(EncodeMessages(Messages()), kMessageBytes);
  EXPECT_EQ(EncodeUsageMinute(Usage()), kUsageBytes);
  EXPECT_EQ(EncodeAgentMinute(Minute()), kAgentMinuteBytes);
}

TEST(FoldCodecTest, DecodesOldMinuteEntries) {
  AgentFold agents;
  TaskFold tasks;
  MetricsFold metrics;
  const MinuteKey minute = {"gpt", 1764000000000000};
  ASSERT_TRUE(DecodeEntry(MinuteKeyOf(kUsageMinuteKind, minute), kUsageBytes,
                          &agents, &tasks, &metrics)
                  .ok());
  EXPECT_EQ(metrics.usage_minutes().at(minute), Usage());
  const MinuteKey agent_minute = {"w1", 1764000000000000};
  ASSERT_TRUE(DecodeEntry(MinuteKeyOf(kAgentMinuteKind, agent_minute),
                          kAgentMinuteBytes, &agents, &tasks, &metrics)
                  .ok());
  EXPECT_EQ(metrics.agent_minutes().at(agent_minute), Minute());
  EXPECT_EQ(DecodeEntry(MinuteKeyOf(kAgentMinuteKind, agent_minute),
                        kAgentMinuteBytes.substr(0, 96), &agents, &tasks,
                        &metrics)
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeEntry(MinuteKeyOf(kUsageMinuteKind, minute),
                        kUsageBytes.substr(0, 32), &agents, &tasks, &metrics)
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST(FoldCodecTest, DecodesOldCoordinationEntries) {
  AgentFold agents;
  TaskFold tasks;
  MetricsFold metrics;
  ASSERT_TRUE(DecodeEntry(PairKey(kPairKind, {"m1", "w1"}), kPairBytes,
                          &agents, &tasks, &metrics)
                  .ok());
  ASSERT_TRUE(DecodeEntry(PairKey(kMessageKind, {"m1", "w1"}), kMessageBytes,
                          &agents, &tasks, &metrics)
                  .ok());
  EXPECT_EQ(tasks.pairs().at({"m1", "w1"}), Pair());
  EXPECT_EQ(tasks.messages().at({"m1", "w1"}), Messages());
  // Cut short or with bytes left over: damaged.
  for (const std::string& value :
       {kPairBytes.substr(0, kPairBytes.size() - 8), kPairBytes + "x"}) {
    EXPECT_EQ(DecodeEntry(PairKey(kPairKind, {"m1", "w1"}), value, &agents,
                          &tasks, &metrics)
                  .code(),
              absl::StatusCode::kDataLoss);
  }
  EXPECT_EQ(DecodeEntry(PairKey(kMessageKind, {"m1", "w1"}),
                        kMessageBytes.substr(0, 20), &agents, &tasks, &metrics)
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST(FoldCodecTest, DecodesOldSnapshots) {
  AgentFold agents;
  TaskFold tasks;
  MetricsFold metrics;
  ASSERT_TRUE(
      DecodeEntry(AgentKey("w1"), kAgentBytes, &agents, &tasks, &metrics)
          .ok());
  ASSERT_TRUE(
      DecodeEntry(TaskKey("t1"), kTaskBytes, &agents, &tasks, &metrics).ok());
  EXPECT_EQ(agents.rows().at("w1"), Agent());
  EXPECT_EQ(tasks.rows().at("t1"), Task());
}

TEST(FoldCodecTest, DamagedEntriesDoNotDecode) {
  AgentFold agents;
  TaskFold tasks;
  MetricsFold metrics;
  // Cut short, even at a column boundary, or with bytes left over.
  for (size_t size : {size_t{0}, size_t{10}, kAgentBytes.size() - 8,
                      kAgentBytes.size() - 1}) {
    EXPECT_EQ(DecodeEntry(AgentKey("w1"), kAgentBytes.substr(0, size),
                          &agents, &tasks, &metrics)
                  .code(),
              absl::StatusCode::kDataLoss)
        << size;
  }
  EXPECT_EQ(DecodeEntry(TaskKey("t1"), kTaskBytes + "x", &agents, &tasks,
                        &metrics)
                .code(),
            absl::StatusCode::kDataLoss);
}

// A snapshot's index: fixed bytes (little-endian counts, length-prefixed
// ids), a round trip, and damage refused (DATA_LOSS through DecodeEntry).
TEST(FoldCodecTest, SnapshotIndexRoundTripsAndRefusesDamage) {
  const SnapshotIndex index{.snapshot = 200,
                            .previous = 100,
                            .task_count = 7,
                            .span_count = 0,
                            .created = {{199, "t9"}, {150, "t8"}}};
  const std::string bytes = EncodeIndex(index);
  EXPECT_EQ(absl::BytesToHexString(bytes),
            "c800000000000000" "6400000000000000" "0700000000000000"
            "0000000000000000" "0200000000000000"
            "c700000000000000" "0200000000000000" "7439"
            "9600000000000000" "0200000000000000" "7438");
  EXPECT_EQ(DecodeIndex(bytes), index);
  AgentFold agents;
  TaskFold tasks;
  MetricsFold metrics;
  EXPECT_TRUE(DecodeEntry(IndexKey(), bytes, &agents, &tasks, &metrics).ok());
  EXPECT_TRUE(tasks.rows().empty());
  for (size_t size : {size_t{0}, size_t{39}, bytes.size() - 1}) {
    EXPECT_FALSE(DecodeIndex(bytes.substr(0, size)).has_value()) << size;
    EXPECT_EQ(DecodeEntry(IndexKey(), bytes.substr(0, size), &agents, &tasks,
                          &metrics)
                  .code(),
              absl::StatusCode::kDataLoss);
  }
  EXPECT_FALSE(DecodeIndex(bytes + "x").has_value());
  // A count of entries the bytes cannot hold allocates nothing.
  const std::string huge =
      bytes.substr(0, 32) + std::string("\xff\xff\xff\xff\xff\xff\xff\x0f", 8);
  EXPECT_FALSE(DecodeIndex(huge).has_value());
}

// A row that gained a column (`added`) after snapshots were written.
struct GrownRow {
  std::string id;
  int64_t count = 0;
  std::string added = "default";
};
constexpr RowColumn<GrownRow> kGrownColumns[] = {
    {.sql = "id", .json = "id", .type = ColumnType::kKey,
     .text = &GrownRow::id},
    {.sql = "count", .json = "count", .type = ColumnType::kInt,
     .int64 = &GrownRow::count},
    {.sql = "added", .json = "added", .type = ColumnType::kText,
     .text = &GrownRow::added},
};
constexpr RowTable<GrownRow> kBefore = {
    "grown", std::span(kGrownColumns).first(2), 2};
constexpr RowTable<GrownRow> kAfter = {"grown", kGrownColumns, 2};

TEST(RowCodecTest, EntriesFromBeforeAColumnWasAddedStillDecode) {
  const std::string old_entry = EncodeRow(GrownRow{"x", 5, "lost"}, kBefore);
  std::optional<GrownRow> row = DecodeRow(old_entry, kAfter);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->id, "x");
  EXPECT_EQ(row->count, 5);
  EXPECT_EQ(row->added, "default");

  const std::string new_entry = EncodeRow(GrownRow{"x", 5, "kept"}, kAfter);
  row = DecodeRow(new_entry, kAfter);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->added, "kept");
  // Into a row that holds another's values: every column is set, the
  // ones an older entry lacks to their defaults.
  GrownRow reused{"other", 7, "kept"};
  ASSERT_TRUE(DecodeRowInto(old_entry, kAfter, &reused));
  EXPECT_EQ(reused.id, "x");
  EXPECT_EQ(reused.count, 5);
  EXPECT_EQ(reused.added, "default");
  // Short of the columns every entry holds: damaged.
  EXPECT_FALSE(DecodeRow(old_entry.substr(0, old_entry.size() - 8), kAfter)
                   .has_value());
}

}  // namespace
}  // namespace vigil::projections::internal
