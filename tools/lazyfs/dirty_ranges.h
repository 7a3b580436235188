// The byte ranges of one file written since its last fsync: disjoint,
// non-adjacent [begin, end) intervals, merged on insert.
//
// Bounded: past kMaxRanges intervals the set collapses to the one interval
// that covers them all. That is safe for vigil-lazyfs because copying a
// byte that was not written copies a byte the durable copy already holds.
// Not thread-safe: DurableState guards each instance with its mutex.

#ifndef VIGIL_TOOLS_LAZYFS_DIRTY_RANGES_H_
#define VIGIL_TOOLS_LAZYFS_DIRTY_RANGES_H_

#include <cstddef>
#include <cstdint>
#include <map>

namespace vigil::lazyfs {

class DirtyRanges {
 public:
  // Most intervals kept before they collapse into one.
  static constexpr size_t kMaxRanges = 1024;

  // Marks [begin, end) dirty; an empty range is ignored.
  void Add(uint64_t begin, uint64_t end);
  bool empty() const { return ranges_.empty(); }
  // begin -> end, ascending.
  const std::map<uint64_t, uint64_t>& ranges() const { return ranges_; }

 private:
  std::map<uint64_t, uint64_t> ranges_;
};

}  // namespace vigil::lazyfs

#endif  // VIGIL_TOOLS_LAZYFS_DIRTY_RANGES_H_
