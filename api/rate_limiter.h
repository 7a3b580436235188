// Per-token append rate limits: a token bucket per principal (docs/contract.md
// "Security": "per-token append rate (token bucket)"). Each append takes
// one token per event; a bucket holds at most `burst` and refills at `rate`
// per second. Thread-safe; the number of buckets is bounded.

#ifndef VIGIL_API_RATE_LIMITER_H_
#define VIGIL_API_RATE_LIMITER_H_

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vigil::api {

struct RateLimiterOptions {
  double events_per_second = 5000;  // 0 = no limit
  double burst = 10000;
  // Most buckets kept; past it idle (full) buckets are dropped, which costs
  // nothing since a full bucket is what a new one starts as.
  size_t max_buckets = 100000;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimiterOptions options) : options_(options) {}

  // Takes `events` tokens from `principal_id`'s bucket. When there are not
  // enough: RateLimitedError (RESOURCE_EXHAUSTED with the seconds to wait,
  // answered 429). An append larger than the burst can never pass: plain
  // RESOURCE_EXHAUSTED (413).
  absl::Status Acquire(const std::string& principal_id, size_t events,
                       absl::Time now = absl::Now());

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  const RateLimiterOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::api

#endif  // VIGIL_API_RATE_LIMITER_H_
