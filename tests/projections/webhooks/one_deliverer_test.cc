// Two WebhookServices delivering the same log's webhooks (what `vigild
// --webhooks=on` on a primary beside `--webhooks=here` on its standby
// would do; docs/webhooks.md "One deliverer"), in one process on one real
// log, to a real receiver (receiver.py). Each `$webhooks` append expects
// the revision its service last folded, so the second deliverer's records
// are refused and one service finds the other's checkpoint and stops
// delivering for good: the events appended after that arrive once each.
// The control turns the expected revision off (WebhookOptions::
// expect_revision): both go on delivering, and the same check sees every
// later event delivered twice.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "projections/webhooks/webhook_service.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/webhook_receiver.h"

namespace vigil {
namespace {

using testing::Delivery;
using testing::Receiver;

class OneDelivererTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.Sub("log"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  std::unique_ptr<webhooks::WebhookService> Start(const std::string& name,
                                                  base::Metrics* metrics) {
    webhooks::WebhookOptions options;
    options.state_dir = dir_.Sub(name);
    options.allow_private = true;
    options.record_checkpoint_every = absl::Milliseconds(50);
    options.expect_revision = GetParam();
    options.metrics = metrics;
    auto service = webhooks::WebhookService::Start(options, log_.get());
    EXPECT_TRUE(service.ok()) << service.status();
    return service.ok() ? *std::move(service) : nullptr;
  }

  // `count` events, one append each; the last position.
  uint64_t Append(int count) {
    uint64_t last = 0;
    for (int i = 0; i < count; ++i) {
      auto appended = log_->Append(
          {.stream = "orders",
           .events = {{.type = "Noted", .data = absl::StrCat(R"({"i":)", i,
                                                             "}")}}});
      EXPECT_TRUE(appended.ok()) << appended.status();
      if (appended.ok()) last = appended->last_position;
    }
    return last;
  }

  // How many times each position in (after, upto] was delivered (2xx).
  static std::map<uint64_t, int> Counts(const Receiver& receiver,
                                        uint64_t after, uint64_t upto) {
    std::map<uint64_t, int> counts;
    for (const Delivery& d : receiver.Received()) {
      if (d.status == 200 && d.position > after && d.position <= upto) {
        ++counts[d.position];
      }
    }
    return counts;
  }

  testing::TempDir dir_;
  std::unique_ptr<eventlog::EventLog> log_;
};

TEST_P(OneDelivererTest, TheSecondDelivererIsFoundAndOneStops) {
  const bool expect_revision = GetParam();
  Receiver receiver(dir_.path());
  receiver.Start();
  base::Metrics metrics_a, metrics_b;
  std::unique_ptr<webhooks::WebhookService> a = Start("a", &metrics_a);
  ASSERT_NE(a, nullptr);
  auto registered = a->Register({.url = receiver.url()});
  ASSERT_TRUE(registered.ok()) << registered.status();
  nlohmann::json endpoint = nlohmann::json::parse(*registered);
  receiver.SetSecret(endpoint["secret"].get<std::string>());
  const uint64_t first = Append(20);
  ASSERT_EQ(receiver.WaitForDelivered(20, absl::Seconds(20)).size(), 20u);

  // A second deliverer on the same log, from A's recorded checkpoint.
  std::unique_ptr<webhooks::WebhookService> b = Start("b", &metrics_b);
  ASSERT_NE(b, nullptr);
  const uint64_t middle = Append(20);
  auto stopped = [&](const base::Metrics& m) {
    return m.Render().find("\nvigil_webhook_other_deliverer 1\n") !=
           std::string::npos;
  };
  // The control waits 2 s for a stop that does not come.
  const absl::Time deadline =
      absl::Now() + (expect_revision ? absl::Seconds(10) : absl::Seconds(2));
  while (!stopped(metrics_a) && !stopped(metrics_b) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (expect_revision) {
    ASSERT_TRUE(stopped(metrics_a) != stopped(metrics_b))
        << "exactly one deliverer stops";
    // The stopped one answers its admin calls 503 with the reason.
    webhooks::WebhookService& loser = stopped(metrics_a) ? *a : *b;
    auto refused = loser.Register({.url = receiver.url()});
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
    EXPECT_NE(refused.status().message().find("another vigild delivers"),
              std::string::npos)
        << refused.status();
  } else {
    EXPECT_FALSE(stopped(metrics_a) || stopped(metrics_b));
  }
  // Every event of the first 40 arrived (some of the middle 20 maybe twice,
  // before the other's first checkpoint).
  ASSERT_GE(receiver.WaitForDelivered(40, absl::Seconds(20)).size(), 40u);

  // After that, one deliverer: each later event once.
  const uint64_t last = Append(20);
  ASSERT_GE(receiver.WaitForDelivered(60, absl::Seconds(20)).size(), 60u);
  absl::SleepFor(absl::Milliseconds(500));  // a second copy would be here
  std::map<uint64_t, int> later = Counts(receiver, middle, last);
  ASSERT_EQ(later.size(), 20u);
  int twice = 0;
  for (const auto& [position, count] : later) twice += count > 1;
  if (expect_revision) {
    EXPECT_EQ(twice, 0) << "later events delivered more than once";
  } else {
    // The control: both deliver, and the check above would fail.
    EXPECT_EQ(twice, 20);
  }
  EXPECT_EQ(Counts(receiver, 0, first).size(), 20u);
}

INSTANTIATE_TEST_SUITE_P(Revision, OneDelivererTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Expected")
                                             : std::string("ControlAny");
                         });

}  // namespace
}  // namespace vigil
