// Fencing a deposed primary's late publishes (replication/internal/
// jetstream.h, docs/replication.md "Fencing the deposed primary"), on a real
// three-node NATS cluster (tools/cluster), deterministically: primary A
// mirrors positions 1 to 5 of its log; standby B, holding the same five
// events, is promoted and publishes its own event at position 6 (its
// LeaderElected) in a session of its own; then A, deposed but with
// positions 6 to 10 still queued in its session, sends them. A's 6 is
// refused by the expected last sequence. The ones behind it name their
// predecessor (Nats-Expected-Last-Msg-Id), which is not the stream's last
// message, so none lands and the stream stays B's log. The control sends
// the same publishes with the message ids unchained (the sequence check
// alone, as the mirror did before): A's 7 chains on B's 6 by sequence and
// lands, and the check sees it.
//
// ClaimTest: the one late publish the expected sequences cannot refuse, a
// deposed primary's first on a connection of its own, landing after the
// new leader's last read of the stream and before its LeaderElected. A
// mirrors 1 to 5; standby C (replication::Standby) applies them and stops
// reading; A's 6 then lands; C claims the stream (Standby::Claim). C must
// apply A's 6 and put its LeaderElected at 7, the stream must equal C's
// log, A's later publishes must be refused, and C's mirror must go on. The
// control takes the old order (LeaderElected appended to C's log first,
// then mirrored): C's log and the stream diverge at 6 and the mirror
// stops. Skipped when nats-server is not installed.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "replication/compare.h"
#include "replication/internal/jetstream.h"
#include "replication/mirror.h"
#include "replication/standby.h"
#include "replication/subject.h"
#include "tests/replication/replication_testing.h"
#include "tests/testing/wait_until.h"

namespace vigil {
namespace {

using replication::internal::AckCallback;
using replication::internal::JetStream;

constexpr char kStream[] = "VIGIL";
constexpr char kPrefix[] = "vigil";

// What a session's publishes came to: position -> stored sequence, or 0
// when refused.
class Acks {
 public:
  AckCallback callback() {
    return [this](uint64_t position, absl::StatusOr<uint64_t> sequence) {
      absl::MutexLock lock(&mu_);
      outcome_[position] = sequence.ok() ? *sequence : 0;
    };
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return outcome_.size();
  }
  std::map<uint64_t, uint64_t> outcome() const {
    absl::MutexLock lock(&mu_);
    return outcome_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<uint64_t, uint64_t> outcome_ ABSL_GUARDED_BY(mu_);
};

class FencingTest : public testing::ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto a = eventlog::EventLog::Open(eventlog::Options{}, dir_.Sub("a"));
    auto b = eventlog::EventLog::Open(eventlog::Options{}, dir_.Sub("b"));
    ASSERT_TRUE(a.ok() && b.ok());
    a_ = *std::move(a);
    b_ = *std::move(b);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(a_->Append({.stream = "work",
                              .events = {{.type = "Noted",
                                          .data = absl::StrCat(R"({"i":)", i,
                                                               "}")}}})
                      .ok());
    }
    a_events_ = *a_->ReadAll(1, 10, eventlog::Filter{});
    ASSERT_EQ(a_events_.size(), 10u);
    // B is A's standby: the same first five events, then its own.
    ASSERT_TRUE(b_->Import({a_events_.begin(), a_events_.begin() + 5}).ok());
    ASSERT_TRUE(b_->Append({.stream = "$leadership",
                            .events = {{.type = "LeaderElected",
                                        .data = R"({"fencing_token":2})"}}})
                    .ok());
    b_events_ = *b_->ReadAll(1, 6, eventlog::Filter{});
    ASSERT_EQ(b_events_.size(), 6u);
  }

  std::unique_ptr<JetStream> Connect(const AckCallback* on_ack, bool chained) {
    absl::StatusOr<std::unique_ptr<JetStream>> js = JetStream::Connect(
        {.url = cluster_->url(),
         .connect_timeout = absl::Seconds(2),
         .api_timeout = absl::Seconds(5),
         .max_pending = 64,
         .on_ack = on_ack,
         .chain_message_ids = chained});
    EXPECT_TRUE(js.ok()) << js.status();
    return js.ok() ? *std::move(js) : nullptr;
  }

  // Creates the stream on `js`; a cluster just started may have no
  // JetStream meta leader yet for a few seconds.
  static void CreateStream(JetStream& js) {
    absl::Status created;
    EXPECT_TRUE(testing::WaitUntil(
        [&] {
          created = js.EnsureStream(kStream, kPrefix, 3).status();
          return created.ok();
        },
        absl::Seconds(20)))
        << created;
  }

  // Publishes `events` in one session and waits for all their outcomes.
  static void PublishAll(JetStream& js, Acks& acks,
                         const std::vector<eventlog::RecordedEvent>& events) {
    const size_t before = acks.size();
    for (const eventlog::RecordedEvent& event : events) {
      ASSERT_TRUE(js.PublishAsync(replication::SubjectFor(kPrefix, event.stream),
                                  event, absl::Seconds(5))
                      .ok());
    }
    ASSERT_TRUE(testing::WaitUntil(
        [&] { return acks.size() == before + events.size(); },
        absl::Seconds(15)));
  }

  // A mirrors 1..5 and keeps its session; B publishes its 6 in a session of
  // its own; A's session then sends 6..10. What A's late publishes came to.
  std::map<uint64_t, uint64_t> RunDeposedPrimary(bool chained) {
    Acks a_acks;
    Acks b_acks;
    const AckCallback on_a = a_acks.callback();
    const AckCallback on_b = b_acks.callback();
    {
      std::unique_ptr<JetStream> a = Connect(&on_a, chained);
      std::unique_ptr<JetStream> b = Connect(&on_b, chained);
      if (a == nullptr || b == nullptr) return {};
      CreateStream(*a);
      PublishAll(*a, a_acks, {a_events_.begin(), a_events_.begin() + 5});
      for (uint64_t position = 1; position <= 5; ++position) {
        EXPECT_EQ(a_acks.outcome()[position], position);
      }
      PublishAll(*b, b_acks, {b_events_[5]});
      EXPECT_EQ(b_acks.outcome()[6], 6u) << "the new leader's LeaderElected";
      PublishAll(*a, a_acks, {a_events_.begin() + 5, a_events_.end()});
    }
    std::map<uint64_t, uint64_t> late = a_acks.outcome();
    late.erase(late.begin(), late.lower_bound(6));
    return late;
  }

  absl::StatusOr<replication::StreamComparison> CompareWithB() {
    return replication::CompareStreamWithLog({.nats_url = cluster_->url()},
                                             *b_);
  }

  std::unique_ptr<eventlog::EventLog> a_;
  std::unique_ptr<eventlog::EventLog> b_;
  std::vector<eventlog::RecordedEvent> a_events_;
  std::vector<eventlog::RecordedEvent> b_events_;
};

TEST_F(FencingTest, NoLatePublishOfADeposedPrimaryLands) {
  const std::map<uint64_t, uint64_t> late = RunDeposedPrimary(/*chained=*/true);
  ASSERT_EQ(late.size(), 5u);
  for (const auto& [position, sequence] : late) {
    EXPECT_EQ(sequence, 0u) << "A's position " << position
                            << " landed at sequence " << sequence;
  }
  absl::StatusOr<replication::StreamComparison> compared = CompareWithB();
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_TRUE(compared->Equal())
      << compared->first_problem << " (stream ends at "
      << compared->stream_last << ")";
}

// The control: the sequence check alone lets A's 7 chain on B's 6.
TEST_F(FencingTest, ControlUnchainedLatePublishesLandAndAreSeen) {
  const std::map<uint64_t, uint64_t> late =
      RunDeposedPrimary(/*chained=*/false);
  ASSERT_EQ(late.size(), 5u);
  EXPECT_EQ(late.at(6), 0u) << "refused by the expected last sequence";
  EXPECT_EQ(late.at(7), 7u) << "chained on the new leader's message";
  absl::StatusOr<replication::StreamComparison> compared = CompareWithB();
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_FALSE(compared->Equal());
  EXPECT_GT(compared->stream_last, compared->log_head);
}

class ClaimTest : public FencingTest {
 protected:
  void SetUp() override {
    FencingTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto c = eventlog::EventLog::Open(eventlog::Options{}, dir_.Sub("c"));
    ASSERT_TRUE(c.ok()) << c.status();
    c_ = *std::move(c);
  }

  // A mirrors 1..5; standby C applies them, then stops reading (its last
  // read of the stream); `late` (A's 6 unless given) lands, first on a
  // connection of its own.
  void DeposeAfterTheLastRead(
      std::optional<eventlog::RecordedEvent> late = std::nullopt) {
    a_session_ = Connect(&on_a_, /*chained=*/true);
    ASSERT_NE(a_session_, nullptr);
    CreateStream(*a_session_);
    if (HasFailure()) return;
    PublishAll(*a_session_, a_acks_, {a_events_.begin(), a_events_.begin() + 5});
    auto standby = replication::Standby::Start(
        {.nats_url = cluster_->url(), .stream = kStream,
         .subject_prefix = kPrefix},
        c_.get());
    ASSERT_TRUE(standby.ok()) << standby.status();
    standby_ = *std::move(standby);
    absl::StatusOr<uint64_t> caught_up =
        standby_->AwaitCaughtUp(absl::Now() + absl::Seconds(20));
    ASSERT_TRUE(caught_up.ok()) << caught_up.status();
    ASSERT_EQ(*caught_up, 5u);
    ASSERT_EQ(c_->HeadPosition(), 5u);
    standby_->Stop();
    late_ = Connect(&on_late_, /*chained=*/true);
    ASSERT_NE(late_, nullptr);
    PublishAll(*late_, late_acks_, {late.value_or(a_events_[5])});
    ASSERT_EQ(late_acks_.outcome()[6], 6u)
        << "first on its connection, A's 6 expects only the stream to end "
           "at 5, and lands";
  }

  // A's connections, before a mirror starts: its destructor waits for
  // every nats.c connection of the process to close (up to 5 s).
  void CloseSessions() {
    a_session_.reset();
    late_.reset();
  }

  std::unique_ptr<replication::Mirror> StartMirror() {
    auto mirror = replication::Mirror::Start(
        {.nats_url = cluster_->url(), .stream = kStream,
         .subject_prefix = kPrefix},
        c_.get());
    EXPECT_TRUE(mirror.ok()) << mirror.status();
    return mirror.ok() ? *std::move(mirror) : nullptr;
  }

  absl::StatusOr<replication::StreamComparison> CompareWithC() {
    return replication::CompareStreamWithLog({.nats_url = cluster_->url()},
                                             *c_);
  }

  static eventlog::EventData LeaderElected() {
    return {.type = "LeaderElected", .data = R"({"fencing_token":2})"};
  }

  std::unique_ptr<eventlog::EventLog> c_;
  std::unique_ptr<replication::Standby> standby_;
  Acks a_acks_;
  Acks late_acks_;
  const AckCallback on_a_ = a_acks_.callback();
  const AckCallback on_late_ = late_acks_.callback();
  std::unique_ptr<JetStream> a_session_;  // A's mirror session, 1..5
  std::unique_ptr<JetStream> late_;       // A's late session, from 6
};

TEST_F(ClaimTest, ALatePublishBeforeTheClaimIsAppliedAndNoneAfterLands) {
  DeposeAfterTheLastRead();
  if (HasFailure()) return;
  absl::StatusOr<uint64_t> claimed = standby_->Claim(
      "$leadership", LeaderElected(), absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(*claimed, 7u) << "LeaderElected after A's 6";
  EXPECT_EQ(standby_->Status().state, "claiming");
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> events =
      c_->ReadAll(1, 100, eventlog::Filter{});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 7u);
  EXPECT_EQ((*events)[5], a_events_[5]) << "A's late 6, applied as it is";
  EXPECT_EQ((*events)[6].stream, "$leadership");
  EXPECT_EQ((*events)[6].type, "LeaderElected");
  absl::StatusOr<replication::StreamComparison> compared = CompareWithC();
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_TRUE(compared->Equal()) << compared->first_problem;
  EXPECT_EQ(compared->stream_last, 7u);

  // A's 7, pipelined behind its 6, and first on yet another connection:
  // both refused.
  PublishAll(*late_, late_acks_, {a_events_[6]});
  EXPECT_EQ(late_acks_.outcome()[7], 0u) << "pipelined behind A's 6";
  {
    Acks fresh_acks;
    const AckCallback on_fresh = fresh_acks.callback();
    std::unique_ptr<JetStream> fresh = Connect(&on_fresh, /*chained=*/true);
    ASSERT_NE(fresh, nullptr);
    PublishAll(*fresh, fresh_acks, {a_events_[6]});
    EXPECT_EQ(fresh_acks.outcome()[7], 0u) << "first on a new connection";
  }

  // C leads: its mirror checks the stream, finds its log, and goes on.
  CloseSessions();
  std::unique_ptr<replication::Mirror> mirror = StartMirror();
  ASSERT_NE(mirror, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c_->Append({.stream = "work",
                            .events = {{.type = "Noted",
                                        .data = R"({"by":"C"})"}}})
                    .ok());
  }
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return mirror->Status().mirrored_position == 10; },
      absl::Seconds(20)))
      << mirror->StatusJson("async");
  EXPECT_EQ(mirror->Status().state, "mirroring") << mirror->StatusJson("async");
  mirror->Stop();
  compared = CompareWithC();
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_TRUE(compared->Equal()) << compared->first_problem;
  EXPECT_EQ(compared->stream_last, 10u);
}

// A message at the claimed position that does not chain from the log (its
// data changed, its hash kept) stops the standby loudly: nothing applied,
// nothing claimed.
TEST_F(ClaimTest, ALatePublishThatDoesNotChainStopsTheClaim) {
  eventlog::RecordedEvent forged = a_events_[5];
  forged.data = R"({"forged":true})";
  DeposeAfterTheLastRead(forged);
  if (HasFailure()) return;
  absl::StatusOr<uint64_t> claimed = standby_->Claim(
      "$leadership", LeaderElected(), absl::Now() + absl::Seconds(20));
  EXPECT_EQ(claimed.status().code(), absl::StatusCode::kFailedPrecondition)
      << claimed.status();
  EXPECT_EQ(standby_->Status().state, "stopped");
  EXPECT_EQ(c_->HeadPosition(), 5u);
}

// The control: the old order, LeaderElected appended to the log first and
// then mirrored. A's 6 holds the position the log gave LeaderElected: the
// stream and the log diverge, and the mirror stops.
TEST_F(ClaimTest, ControlAppendingLocallyFirstDivergesAndTheMirrorStops) {
  DeposeAfterTheLastRead();
  if (HasFailure()) return;
  absl::StatusOr<eventlog::AppendResult> appended =
      c_->Append({.stream = "$leadership", .events = {LeaderElected()}});
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->last_position, 6u);
  CloseSessions();
  std::unique_ptr<replication::Mirror> mirror = StartMirror();
  ASSERT_NE(mirror, nullptr);
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return mirror->Status().state == "stopped"; }, absl::Seconds(20)))
      << mirror->StatusJson("async");
  mirror->Stop();
  absl::StatusOr<replication::StreamComparison> compared = CompareWithC();
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_FALSE(compared->Equal());
  EXPECT_EQ(compared->mismatches, 1u) << compared->first_problem;
}

}  // namespace
}  // namespace vigil
