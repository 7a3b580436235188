// FrameQueue (gateway/internal/frame_queue.h): first in, first out across
// compactions, payloads released when popped, nothing held once drained.

#include "gateway/internal/frame_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace vigil::gateway::internal {
namespace {

LiveFrame Frame(uint64_t position) {
  return LiveFrame{Share(std::to_string(position)), false, position};
}

std::vector<uint64_t> Positions(const FrameQueue& queue) {
  std::vector<uint64_t> out;
  for (const LiveFrame& frame : queue) out.push_back(frame.position);
  return out;
}

TEST(FrameQueueTest, FirstInFirstOutAcrossCompactions) {
  FrameQueue queue;
  EXPECT_TRUE(queue.empty());
  uint64_t pushed = 0;
  uint64_t popped = 0;
  // Pushes 3, pops 2, many times over: the read index passes the
  // compaction point again and again with frames still queued.
  for (int i = 0; i < 500; ++i) {
    for (int j = 0; j < 3; ++j) queue.push_back(Frame(++pushed));
    for (int j = 0; j < 2; ++j) {
      ASSERT_FALSE(queue.empty());
      ASSERT_EQ(queue.front().position, ++popped);
      EXPECT_EQ(*queue.front().payload, std::to_string(popped));
      queue.pop_front();
    }
    ASSERT_EQ(queue.size(), pushed - popped);
  }
  std::vector<uint64_t> expected;
  for (uint64_t p = popped + 1; p <= pushed; ++p) expected.push_back(p);
  EXPECT_EQ(Positions(queue), expected);
  while (!queue.empty()) {
    ASSERT_EQ(queue.front().position, ++popped);
    queue.pop_front();
  }
  EXPECT_EQ(popped, pushed);
  EXPECT_EQ(queue.size(), 0u);
}

TEST(FrameQueueTest, PopReleasesThePayloadAndClearEmpties) {
  FrameQueue queue;
  auto payload = Share("shared");
  std::weak_ptr<const std::string> weak = payload;
  queue.push_back(LiveFrame{payload, false, 1});
  queue.push_back(Frame(2));
  payload.reset();
  EXPECT_FALSE(weak.expired());
  queue.pop_front();  // not the last: the slot is kept, the payload is not
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(Positions(queue), std::vector<uint64_t>{2});
  for (uint64_t p = 3; p < 100; ++p) queue.push_back(Frame(p));
  queue.clear();
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.begin(), queue.end());
  queue.push_back(Frame(7));
  EXPECT_EQ(queue.front().position, 7u);
}

}  // namespace
}  // namespace vigil::gateway::internal
