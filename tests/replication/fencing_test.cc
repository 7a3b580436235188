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
// lands, and the check sees it. Skipped when nats-server is not installed.

#include <cstdint>
#include <map>
#include <memory>
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
      EXPECT_TRUE(a->EnsureStream(kStream, kPrefix, 3).ok());
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

}  // namespace
}  // namespace vigil
