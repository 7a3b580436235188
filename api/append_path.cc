#include "api/append_path.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/append_checks.h"
#include "api/status_mapping.h"

namespace vigil::api {
namespace {

// Data plus metadata: what vigil_append_bytes_total counts.
size_t PayloadBytes(const std::vector<eventlog::EventData>& events) {
  size_t bytes = 0;
  for (const eventlog::EventData& event : events) {
    bytes += event.data.size() + event.metadata.size();
  }
  return bytes;
}

}  // namespace

AppendPath::AppendPath(eventlog::EventLog* log, AppendPathOptions options,
                       RateLimiter* rate_limiter, base::Metrics* metrics)
    : log_(log),
      options_(options),
      rate_limiter_(rate_limiter),
      metrics_(metrics == nullptr
                   ? std::nullopt
                   : std::optional(base::AppendMetrics::Register(metrics))) {}

void AppendPath::Append(const Principal& principal,
                        eventlog::AppendRequest request, Done done,
                        EventSource source) {
  absl::Status checked = Authorize(principal, Operation::kAppend);
  const bool system_append =
      principal.role == Role::kAdmin &&
      std::find(options_.admin_streams.begin(), options_.admin_streams.end(),
                request.stream) != options_.admin_streams.end();
  if (checked.ok() && !system_append) {
    checked = CheckClientAppend(request, source);
  }
  if (checked.ok() && options_.writable) checked = options_.writable();
  if (checked.ok() && rate_limiter_ != nullptr && !principal.anonymous) {
    checked = rate_limiter_->Acquire(principal.id, request.events.size());
  }
  if (!checked.ok()) return done(checked);
  if (inflight_.fetch_add(1) >= options_.max_inflight_appends) {
    inflight_.fetch_sub(1);
    return done(RateLimitedError(
        absl::StrCat("too many appends in flight on this server (",
                     options_.max_inflight_appends, "); retry"),
        1));
  }
  const size_t events = request.events.size();
  const size_t bytes = PayloadBytes(request.events);
  auto answer = [this, events, bytes, start = absl::Now(),
                 done = std::move(done)](
                    absl::StatusOr<eventlog::AppendResult> result) {
    if (metrics_.has_value() && result.ok() && !result->deduplicated) {
      metrics_->Record(events, bytes,
                       absl::ToDoubleSeconds(absl::Now() - start));
    }
    inflight_.fetch_sub(1);
    // Last: the transport may finish its call here, and with it the
    // server's shutdown may begin.
    done(std::move(result));
  };
  if (!options_.await_replicated) {
    log_->AppendAsync(request, std::move(answer));
    return;
  }
  log_->AppendAsync(
      request, [this, answer = std::move(answer)](
                   absl::StatusOr<eventlog::AppendResult> result) mutable {
        if (!result.ok()) return answer(std::move(result));
        const uint64_t position = result->last_position;
        options_.await_replicated(
            position, [answer = std::move(answer), result = *std::move(result)](
                          absl::Status stored) mutable {
              if (!stored.ok()) return answer(std::move(stored));
              answer(std::move(result));
            });
      });
}

}  // namespace vigil::api
