// Subscriptions (docs/contract.md "Subscribe"): every event matching a filter
// with position > from_position, history first, then live, with no gap and no
// duplicate at the switch. One SubscriptionHub per server; each Subscribe
// call gets a reactor from Start().
//
// A subscriber is a cursor over the log. While it is behind, its events are
// read from the log in pages on the hub's executor (never on a gRPC thread);
// once it reaches the head it waits for the log's head listener. A subscriber
// that stops reading holds at most one page in memory and never slows the
// writer or other subscribers: it simply falls behind and reads the log again
// when it resumes. Thread-safe.

#ifndef VIGIL_API_SUBSCRIPTION_H_
#define VIGIL_API_SUBSCRIPTION_H_

#include <functional>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/executor.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "grpcpp/grpcpp.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::api {

struct SubscriptionOptions {
  // Events read from the log per page, and positions examined per page when
  // a filter skips events (bounds the work of one read).
  size_t page_events = 256;
  size_t page_scan = 4096;
  // While filtered events are skipped, a `checkpoint` at least this often.
  absl::Duration checkpoint_interval = absl::Seconds(1);
  // Threads reading pages from the log, and pages waiting for them.
  int reader_threads = 2;
  size_t max_queued_reads = 1024;
  // Most concurrent subscriptions; over it Subscribe fails with
  // RESOURCE_EXHAUSTED.
  size_t max_subscriptions = 10000;
};

class SubscriptionHub {
 public:
  // `log` (and `metrics`, when given) must outlive the hub. Metrics:
  // vigil_subscriptions (open now) and vigil_subscription_fallbacks_total
  // (a subscriber that was live fell more than a page behind the head and
  // reads the log to catch up again).
  SubscriptionHub(eventlog::EventLog* log, SubscriptionOptions options,
                  base::Metrics* metrics = nullptr);
  // Stop()s, then waits (up to 30 s) until gRPC has finished with every
  // subscription. The gRPC server must still be running, or be shut down.
  ~SubscriptionHub();
  SubscriptionHub(const SubscriptionHub&) = delete;
  SubscriptionHub& operator=(const SubscriptionHub&) = delete;

  // Ends every open subscription with UNAVAILABLE (clients resume from the
  // last position they saw) and refuses new ones. Call before shutting the
  // gRPC server down, so it need not wait for them.
  void Stop();

  // Called once with the status a subscription ends with (quick: it runs
  // under the subscription's lock).
  using FinishCallback = std::function<void(const absl::Status&)>;

  // The reactor for one Subscribe call; `on_finish` (optional) hears how it
  // ended.
  grpc::ServerWriteReactor<vigil::v1::SubscribeResponse>* Start(
      grpc::CallbackServerContext* context,
      const vigil::v1::SubscribeRequest* request,
      FinishCallback on_finish = nullptr);

  size_t active() const;

 private:
  class Subscriber;
  friend class Subscriber;

  void OnHead(uint64_t head);
  void Unregister(Subscriber* subscriber);  // from OnDone
  void Released();                          // from ~Subscriber

  eventlog::EventLog* const log_;
  const SubscriptionOptions options_;
  base::Executor readers_;
  uint64_t listener_ = 0;

  std::atomic<bool> wake_pending_{false};
  base::Gauge* open_gauge_ = nullptr;
  base::Counter* fallbacks_ = nullptr;

  mutable absl::Mutex mu_;
  std::vector<Subscriber*> subscribers_ ABSL_GUARDED_BY(mu_);
  size_t live_ ABSL_GUARDED_BY(mu_) = 0;  // subscribers not yet deleted
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vigil::api

#endif  // VIGIL_API_SUBSCRIPTION_H_
