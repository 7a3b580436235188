// The torture run's history checker (tools/torture/history.h) on histories
// whose faults are known: each kind of broken promise is caught and
// counted, and the allowed outcomes are not taken for one.

#include "tools/torture/history.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vigil::torture {
namespace {

// An acknowledged append of `n` events to `stream` at `first_position`,
// whose first event has revision `first_revision`.
Invocation Ok(uint64_t op, const std::string& stream, size_t n,
              uint64_t first_position, uint64_t first_revision) {
  Invocation invocation;
  invocation.op = op;
  invocation.stream = stream;
  invocation.type = "AgentHeartbeat";
  for (size_t i = 0; i < n; ++i) {
    invocation.event_ids.push_back("id-" + std::to_string(op) + "-" +
                                   std::to_string(i));
    invocation.data.push_back("{\"op\":" + std::to_string(op) + ",\"i\":" +
                              std::to_string(i) + "}");
  }
  invocation.outcome = Outcome::kOk;
  invocation.first_position = first_position;
  invocation.last_position = first_position + n - 1;
  invocation.next_expected_revision = first_revision + n - 1;
  return invocation;
}

Invocation WithOutcome(Invocation invocation, Outcome outcome) {
  invocation.outcome = outcome;
  invocation.first_position = invocation.last_position = 0;
  invocation.error = "14: unavailable";
  return invocation;
}

// The events `op` wrote, at `first_position` on.
std::vector<LoggedEvent> EventsOf(const Invocation& op, uint64_t first_position,
                                  uint64_t first_revision) {
  std::vector<LoggedEvent> events;
  for (size_t i = 0; i < op.event_ids.size(); ++i) {
    events.push_back({.position = first_position + i,
                      .revision = first_revision + i,
                      .stream = op.stream,
                      .event_id = op.event_ids[i],
                      .type = op.type,
                      .data = op.data[i]});
  }
  return events;
}

std::vector<LoggedEvent> Concat(std::vector<std::vector<LoggedEvent>> parts) {
  std::vector<LoggedEvent> all;
  for (auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

TEST(TortureHistoryTest, AnIntactLogPasses) {
  const Invocation a = Ok(1, "s", 1, 1, 0);
  const Invocation b = Ok(2, "s", 3, 2, 1);
  const Invocation c = Ok(3, "t", 1, 5, 0);
  const CheckReport report = CheckHistory(
      {a, b, c}, Concat({EventsOf(a, 1, 0), EventsOf(b, 2, 1), EventsOf(c, 5, 0)}),
      1);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.acknowledged_appends, 3u);
  EXPECT_EQ(report.acknowledged_events, 5u);
  EXPECT_TRUE(report.problems.empty());
}

TEST(TortureHistoryTest, AMissingAcknowledgedEventIsLost) {
  const Invocation a = Ok(1, "s", 1, 1, 0);
  const Invocation b = Ok(2, "s", 1, 2, 1);
  const CheckReport report = CheckHistory({a, b}, EventsOf(a, 1, 0), 1);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.lost, 1u);
  ASSERT_FALSE(report.problems.empty());
  EXPECT_NE(report.problems[0].find("lost: op 2"), std::string::npos);
}

TEST(TortureHistoryTest, ChangedBytesOrAnotherPlaceAreLost) {
  const Invocation a = Ok(1, "s", 2, 1, 0);
  std::vector<LoggedEvent> changed = EventsOf(a, 1, 0);
  changed[1].data = "{\"op\":1,\"i\":9}";
  EXPECT_EQ(CheckHistory({a}, changed, 1).lost, 1u);

  std::vector<LoggedEvent> moved = EventsOf(a, 1, 0);
  moved[0].revision = 7;
  EXPECT_EQ(CheckHistory({a}, moved, 1).lost, 1u);

  // Acknowledged at 1-2 but found at 2-3, behind someone else's event.
  const Invocation other = WithOutcome(Ok(2, "t", 1, 0, 0), Outcome::kUnknown);
  const CheckReport shifted = CheckHistory(
      {a, other}, Concat({EventsOf(other, 1, 0), EventsOf(a, 2, 0)}), 1);
  EXPECT_EQ(shifted.lost, 2u);
}

TEST(TortureHistoryTest, MissingPositionsAreGaps) {
  const Invocation a = Ok(1, "s", 1, 1, 0);
  const Invocation b = Ok(2, "s", 1, 4, 1);
  const CheckReport report =
      CheckHistory({a, b}, Concat({EventsOf(a, 1, 0), EventsOf(b, 4, 1)}), 1);
  EXPECT_EQ(report.gaps, 2u);
  EXPECT_EQ(report.lost, 0u);
  EXPECT_FALSE(report.ok());
}

TEST(TortureHistoryTest, AnEventFoundTwiceIsADuplicate) {
  const Invocation a = Ok(1, "s", 1, 1, 0);
  const CheckReport report =
      CheckHistory({a}, Concat({EventsOf(a, 1, 0), EventsOf(a, 2, 1)}), 1);
  EXPECT_EQ(report.duplicates, 1u);
  EXPECT_FALSE(report.ok());
}

TEST(TortureHistoryTest, ARefusedAppendMustNotAppear) {
  const Invocation refused = WithOutcome(Ok(1, "s", 1, 1, 0), Outcome::kFail);
  EXPECT_EQ(CheckHistory({refused}, EventsOf(refused, 1, 0), 1).failed_appeared,
            1u);
  EXPECT_TRUE(CheckHistory({refused}, {}, 1).ok());
}

TEST(TortureHistoryTest, UnknownOutcomesAreCountedNotFaulted) {
  const Invocation appeared = WithOutcome(Ok(1, "s", 1, 1, 0), Outcome::kUnknown);
  const Invocation vanished = WithOutcome(Ok(2, "s", 1, 2, 1), Outcome::kUnknown);
  const CheckReport report =
      CheckHistory({appeared, vanished}, EventsOf(appeared, 1, 0), 1);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.unknown_appeared, 1u);
  EXPECT_EQ(report.unknown_vanished, 1u);
}

TEST(TortureHistoryTest, PartOfAnAppendIsTorn) {
  const Invocation batch = WithOutcome(Ok(1, "s", 3, 1, 0), Outcome::kUnknown);
  std::vector<LoggedEvent> events = EventsOf(batch, 1, 0);
  events.pop_back();
  const CheckReport report = CheckHistory({batch}, events, 1);
  EXPECT_EQ(report.torn, 1u);
  EXPECT_FALSE(report.ok());
}

TEST(TortureHistoryTest, AnEventNobodyWroteIsForeign) {
  const Invocation a = Ok(1, "s", 1, 1, 0);
  std::vector<LoggedEvent> events = EventsOf(a, 1, 0);
  events.push_back({.position = 2, .stream = "x", .event_id = "stranger"});
  const CheckReport report = CheckHistory({a}, events, 1);
  EXPECT_EQ(report.foreign, 1u);
  EXPECT_FALSE(report.ok());
}

TEST(TortureHistoryTest, AWindowSkipsAcknowledgementsBelowIt) {
  const Invocation old = Ok(1, "s", 2, 1, 0);
  const Invocation fresh = Ok(2, "s", 1, 3, 2);
  const CheckReport report = CheckHistory({old, fresh}, EventsOf(fresh, 3, 2), 3);
  EXPECT_TRUE(report.ok()) << report.problems[0];
  EXPECT_EQ(report.acknowledged_appends, 1u);
  // The window must start where it says: a missing first position is a gap.
  EXPECT_EQ(CheckHistory({fresh}, EventsOf(fresh, 3, 2), 2).gaps, 1u);
}

TEST(TortureHistoryTest, PendingInvocationsAreIgnored) {
  Invocation pending = Ok(1, "s", 1, 1, 0);
  pending.outcome = Outcome::kPending;
  EXPECT_TRUE(CheckHistory({pending}, {}, 1).ok());
}

TEST(TortureHistoryTest, TheHistoryFileHasOneLinePerStep) {
  const std::string path = ::testing::TempDir() + "/history.ndjson";
  {
    History history(path);
    Invocation op = Ok(0, "s", 1, 0, 0);
    op.outcome = Outcome::kPending;
    const uint64_t id = history.Invoke(op);
    EXPECT_EQ(id, 1u);
    history.Complete(id, Ok(1, "s", 1, 5, 0));
    const std::vector<Invocation> ops = history.Snapshot();
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0].outcome, Outcome::kOk);
    EXPECT_EQ(ops[0].first_position, 5u);
  }
  std::FILE* file = std::fopen(path.c_str(), "r");
  ASSERT_NE(file, nullptr);
  char line[4096];
  ASSERT_NE(std::fgets(line, sizeof(line), file), nullptr);
  EXPECT_NE(std::string(line).find("\"type\":\"invoke\""), std::string::npos);
  ASSERT_NE(std::fgets(line, sizeof(line), file), nullptr);
  EXPECT_NE(std::string(line).find("\"type\":\"ok\",\"first_position\":5"),
            std::string::npos);
  EXPECT_EQ(std::fgets(line, sizeof(line), file), nullptr);
  std::fclose(file);
}

}  // namespace
}  // namespace vigil::torture
