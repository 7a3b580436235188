#include "tools/lazyfs/dirty_ranges.h"

#include <algorithm>

namespace vigil::lazyfs {

void DirtyRanges::Add(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  // The first interval that could touch [begin, end): the one before begin
  // if it reaches begin, else the first at or after begin.
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin() && std::prev(it)->second >= begin) --it;
  while (it != ranges_.end() && it->first <= end) {
    begin = std::min(begin, it->first);
    end = std::max(end, it->second);
    it = ranges_.erase(it);
  }
  ranges_.emplace_hint(it, begin, end);
  if (ranges_.size() > kMaxRanges) {
    const uint64_t first = ranges_.begin()->first;
    const uint64_t last = ranges_.rbegin()->second;
    ranges_.clear();
    ranges_.emplace(first, last);
  }
}

}  // namespace vigil::lazyfs
