#include "projections/webhooks/retry_policy.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace vigil::webhooks {
namespace {

constexpr size_t kMaxScheduleEntries = 20;

absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace

absl::StatusOr<std::vector<absl::Duration>> ParseSchedule(
    std::string_view text) {
  std::vector<absl::Duration> schedule;
  if (text.empty()) return schedule;
  for (absl::string_view part : absl::StrSplit(AsAbsl(text), ',')) {
    absl::Duration duration;
    if (!absl::ParseDuration(part, &duration) ||
        duration <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("retry schedule: \"", part,
                       "\" is not a positive duration (e.g. 5s, 5m, 2h)"));
    }
    schedule.push_back(duration);
  }
  if (schedule.size() > kMaxScheduleEntries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retry schedule: at most ", kMaxScheduleEntries, " retries"));
  }
  return schedule;
}

std::string FormatSchedule(const std::vector<absl::Duration>& schedule) {
  std::string out;
  for (absl::Duration duration : schedule) {
    if (!out.empty()) out.push_back(',');
    out.append(absl::FormatDuration(duration));
  }
  return out;
}

std::optional<absl::Duration> NextRetryDelay(const RetryPolicy& policy,
                                             int attempt, double unit_random) {
  if (attempt < 1 || static_cast<size_t>(attempt) > policy.schedule.size()) {
    return std::nullopt;
  }
  const double spread = 1.0 + policy.jitter * (2.0 * unit_random - 1.0);
  return policy.schedule[static_cast<size_t>(attempt - 1)] *
         (policy.scale * spread);
}

std::optional<absl::Duration> ParseRetryAfter(std::string_view value,
                                              absl::Time now,
                                              absl::Duration max_retry_after) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  absl::Duration wait;
  uint64_t seconds = 0;
  if (value.find_first_not_of("0123456789") == std::string_view::npos &&
      absl::SimpleAtoi(AsAbsl(value), &seconds)) {
    wait = absl::Seconds(static_cast<double>(seconds));
  } else {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    absl::Time when;
    std::string error;
    if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", AsAbsl(value),
                         absl::UTCTimeZone(), &when, &error)) {
      return std::nullopt;
    }
    wait = std::max(absl::ZeroDuration(), when - now);
  }
  return std::min(wait, max_retry_after);
}

absl::Time CircuitBreaker::NextAllowed(absl::Time now) const {
  return open_ ? std::max(now, open_until_) : now;
}

CircuitBreaker::State CircuitBreaker::state(absl::Time now) const {
  if (!open_) return State::kClosed;
  return now < open_until_ ? State::kOpen : State::kHalfOpen;
}

void CircuitBreaker::RecordSuccess() {
  failures_ = 0;
  open_ = false;
  cooldown_ = absl::ZeroDuration();
}

bool CircuitBreaker::RecordFailure(absl::Time now) {
  ++failures_;
  if (open_) {
    // A failed half-open probe: open again, for longer.
    cooldown_ =
        std::min(cooldown_ * 2, policy_.circuit_max_cooldown * policy_.scale);
    open_until_ = now + cooldown_;
    return false;
  }
  if (failures_ < policy_.circuit_threshold) return false;
  open_ = true;
  cooldown_ = policy_.circuit_cooldown * policy_.scale;
  open_until_ = now + cooldown_;
  return true;
}

std::string_view CircuitBreaker::Name(State state) {
  switch (state) {
    case State::kClosed:
      return "closed";
    case State::kOpen:
      return "open";
    case State::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

}  // namespace vigil::webhooks
