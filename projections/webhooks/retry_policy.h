// When a webhook delivery is tried again: the retry schedule with jitter,
// Retry-After, and the per-endpoint circuit breaker. Value types and pure
// functions (jitter takes its random number as an argument), so the
// policy is tested without a clock or a network.

#ifndef VIGIL_PROJECTIONS_WEBHOOKS_RETRY_POLICY_H_
#define VIGIL_PROJECTIONS_WEBHOOKS_RETRY_POLICY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil::webhooks {

struct RetryPolicy {
  // The waits before the 2nd, 3rd, ... attempt: a delivery is tried
  // 1 + schedule.size() times, then dead-lettered.
  std::vector<absl::Duration> schedule = {
      absl::Seconds(5), absl::Minutes(5), absl::Minutes(30), absl::Hours(2),
      absl::Hours(5),   absl::Hours(10),  absl::Hours(10)};
  // Every wait (schedule, circuit cool-down) is multiplied by it; tests
  // make it small. Retry-After is honoured as sent, up to max_retry_after.
  double scale = 1.0;
  // Each scheduled wait is spread uniformly over +-jitter of itself, so
  // endpoints that failed together do not retry together.
  double jitter = 0.2;
  // The longest Retry-After (429, 503) honoured; longer ones are cut to it.
  absl::Duration max_retry_after = absl::Hours(10);
  // Consecutive failed attempts (any event) that open the circuit.
  int circuit_threshold = 5;
  // How long an open circuit sends nothing before one half-open probe; it
  // doubles after each failed probe, up to circuit_max_cooldown.
  absl::Duration circuit_cooldown = absl::Seconds(30);
  absl::Duration circuit_max_cooldown = absl::Minutes(30);
};

// "5s,5m,30m,2h" (absl::ParseDuration units, each > 0, at most 20
// entries; "" is no retry at all). INVALID_ARGUMENT otherwise.
absl::StatusOr<std::vector<absl::Duration>> ParseSchedule(
    std::string_view text);
std::string FormatSchedule(const std::vector<absl::Duration>& schedule);

// The wait after failed attempt number `attempt` (1-based), or nullopt when
// it was the last one. `unit_random` is uniform in [0, 1).
std::optional<absl::Duration> NextRetryDelay(const RetryPolicy& policy,
                                             int attempt, double unit_random);

// A Retry-After value (delay-seconds or an HTTP date) as a wait from `now`,
// capped by max_retry_after; nullopt when absent or malformed.
std::optional<absl::Duration> ParseRetryAfter(std::string_view value,
                                              absl::Time now,
                                              absl::Duration max_retry_after);

// The circuit breaker of one endpoint. Closed: requests flow. After
// circuit_threshold consecutive failures it opens until a cool-down ends;
// then it is half-open: the next request is the probe, its success closes
// the circuit and its failure opens it again for twice the cool-down.
// Not thread-safe: the endpoint's worker owns it.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  explicit CircuitBreaker(const RetryPolicy& policy) : policy_(policy) {}

  // When the next request may go (`now` when it may go now).
  absl::Time NextAllowed(absl::Time now) const;
  State state(absl::Time now) const;
  int consecutive_failures() const { return failures_; }

  void RecordSuccess();
  // True when this failure opened the circuit.
  bool RecordFailure(absl::Time now);

  static std::string_view Name(State state);

 private:
  const RetryPolicy policy_;
  int failures_ = 0;
  bool open_ = false;
  absl::Time open_until_ = absl::InfinitePast();
  absl::Duration cooldown_ = absl::ZeroDuration();
};

}  // namespace vigil::webhooks

#endif  // VIGIL_PROJECTIONS_WEBHOOKS_RETRY_POLICY_H_
