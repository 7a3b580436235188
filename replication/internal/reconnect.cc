#include "replication/internal/reconnect.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace vigil::replication::internal {

void RunReconnecting(
    const ReconnectOptions& options,
    const std::function<absl::Status(const Connected& connected)>& session) {
  absl::Duration backoff = options.min_backoff;
  const Connected connected = [&backoff, &options] {
    backoff = options.min_backoff;
  };
  std::string last_logged;
  absl::Mutex& mu = *options.mu;
  while (true) {
    {
      absl::MutexLock lock(&mu);
      if (*options.stopping) return;
    }
    const absl::Status ended = session(connected);
    absl::MutexLock lock(&mu);
    if (*options.state == kStateStopped) {
      mu.Await(absl::Condition(options.stopping));
      return;
    }
    if (*options.stopping) return;
    *options.state = kStateConnecting;
    *options.last_error = std::string(ended.message());
    if (options.on_error) options.on_error();
    if (ended.message() != last_logged) {
      last_logged = std::string(ended.message());
      options.log(absl::StrCat(last_logged, "; reconnecting (backoff ",
                               absl::FormatDuration(backoff), ")"));
    }
    mu.AwaitWithTimeout(absl::Condition(options.stopping), backoff);
    backoff = std::min(backoff * 2, options.max_backoff);
  }
}

}  // namespace vigil::replication::internal
