// LiveTicker: the one timer behind every live connection's once-a-second
// tick (live_session.cc: slow consumers, checkpoints, keep-alive pings,
// idle timeouts). Each tick it calls every registered connection's Tick on
// its own thread, which posts to the connection's strand only when there
// is something to do there; so an open connection keeps no timer wait of
// its own (10,000 idle connections, 10,000 fewer pending operations), and
// an idle one costs no allocation a second. Connections are held weakly and
// forgotten once gone. One per HttpServer.
//
// Thread safety: Add may be called from any thread; Start and Stop by the
// server's owner, Stop once no thread runs the io_context any more.

#ifndef VIGIL_GATEWAY_INTERNAL_LIVE_TICKER_H_
#define VIGIL_GATEWAY_INTERNAL_LIVE_TICKER_H_

#include <utility>  // before Asio: Boost 1.74 needs std::exchange declared

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vigil::gateway::internal {

class LiveTicker {
 public:
  // A connection ticked by the ticker.
  class Target {
   public:
    virtual ~Target() = default;
    // Called on the ticker's strand, not the connection's: quick, and
    // touching only what is safe from any thread.
    virtual void Tick(std::chrono::steady_clock::time_point now) = 0;
  };

  // How often every connection is ticked.
  static constexpr std::chrono::seconds kInterval{1};

  // Begins ticking on `executor` (a strand of the server's io_context).
  void Start(const boost::asio::any_io_executor& executor);
  // Stops ticking and lets go of the timer and the targets.
  void Stop();

  // Ticks `target` from the next tick on until it is gone.
  void Add(std::weak_ptr<Target> target);

 private:
  void ArmLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnTimer();

  absl::Mutex mu_;
  std::unique_ptr<boost::asio::steady_timer> timer_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<Target>> targets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_LIVE_TICKER_H_
