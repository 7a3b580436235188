#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "api/status_mapping.h"

namespace vigil::api {

absl::Status RateLimiter::Acquire(const std::string& principal_id,
                                  size_t events, absl::Time now) {
  if (options_.events_per_second <= 0) return absl::OkStatus();
  const double needed = static_cast<double>(events);
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(principal_id);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_buckets) {
      absl::erase_if(buckets_, [&](const auto& entry) {
        return entry.second.tokens +
                   absl::ToDoubleSeconds(now - entry.second.updated) *
                       options_.events_per_second >=
               options_.burst;
      });
    }
    it = buckets_.emplace(principal_id, Bucket{options_.burst, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = std::min(
      options_.burst,
      bucket.tokens + std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated)) *
                          options_.events_per_second);
  bucket.updated = now;
  if (needed > options_.burst) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "an append of ", events, " events exceeds the rate limit's burst of ",
        options_.burst));
  }
  if (bucket.tokens >= needed) {
    bucket.tokens -= needed;
    return absl::OkStatus();
  }
  const double wait_seconds =
      std::ceil((needed - bucket.tokens) / options_.events_per_second);
  return RateLimitedError(
      absl::StrCat("append rate limit exceeded (", options_.events_per_second,
                   " events/s); retry after ", wait_seconds, " s"),
      static_cast<int>(wait_seconds));
}

}  // namespace vigil::api
