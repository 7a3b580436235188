#include "eventlog/internal/recent_records.h"

#include <algorithm>
#include <utility>

namespace vigil::eventlog::internal {

void RecentRecords::Add(uint64_t first, std::vector<std::string>* records) {
  if (records->empty() || max_records_ == 0) return;
  auto group = std::make_shared<Group>();
  group->first = first;
  group->records = std::move(*records);
  records->clear();
  for (const std::string& record : group->records) {
    group->bytes += record.size();
  }
  // Dropped groups are freed after the lock is let go.
  std::deque<std::shared_ptr<const Group>> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (!groups_.empty()) {
      const Group& last = *groups_.back();
      if (last.first + last.records.size() != first) {
        dropped.swap(groups_);
        records_ = 0;
        bytes_ = 0;
      }
    }
    records_ += group->records.size();
    bytes_ += group->bytes;
    groups_.push_back(std::move(group));
    while (groups_.size() > 1 &&
           (records_ > max_records_ || bytes_ > max_bytes_)) {
      records_ -= groups_.front()->records.size();
      bytes_ -= groups_.front()->bytes;
      dropped.push_back(std::move(groups_.front()));
      groups_.pop_front();
    }
  }
}

void RecentRecords::Clear() {
  std::deque<std::shared_ptr<const Group>> dropped;
  absl::MutexLock lock(&mu_);
  dropped.swap(groups_);
  records_ = 0;
  bytes_ = 0;
}

uint64_t RecentRecords::Visit(
    uint64_t from, size_t at_most,
    const std::function<bool(uint64_t position, std::string_view record)>&
        visit) const {
  std::vector<std::shared_ptr<const Group>> groups;
  {
    absl::MutexLock lock(&mu_);
    if (groups_.empty() || from < groups_.front()->first) return from;
    // The first group holding `from`: groups are contiguous and ascend.
    auto it = std::upper_bound(
        groups_.begin(), groups_.end(), from,
        [](uint64_t position, const std::shared_ptr<const Group>& group) {
          return position < group->first;
        });
    --it;
    size_t covered = 0;
    for (; it != groups_.end(); ++it) {
      const Group& group = **it;
      if (group.first + group.records.size() <= from) return from;  // past
      groups.push_back(*it);
      covered += group.first + group.records.size() - std::max(from, group.first);
      if (at_most != 0 && covered >= at_most) break;
    }
  }
  uint64_t next = from;
  size_t visited = 0;
  for (const auto& group : groups) {
    for (size_t i = next - group->first; i < group->records.size(); ++i) {
      if (at_most != 0 && visited >= at_most) return next;
      if (!visit(next, group->records[i])) return next;
      ++next;
      ++visited;
    }
  }
  return next;
}

}  // namespace vigil::eventlog::internal
