// A fixed pool of threads with a bounded queue, for the work the gRPC and
// HTTP handlers must not do on their network threads: RocksDB reads.
// Thread-safe; the destructor runs what is queued, then joins.

#ifndef VIGIL_BASE_EXECUTOR_H_
#define VIGIL_BASE_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace vigil::base {

class Executor {
 public:
  // `threads` workers named `name`, at most `max_queue` tasks waiting.
  Executor(std::string name, int threads, size_t max_queue);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`; false (and `task` dropped) when the queue is full or the
  // executor is stopping, so the caller can answer RESOURCE_EXHAUSTED.
  bool Schedule(std::function<void()> task);

 private:
  void Run();

  const std::string name_;
  const size_t max_queue_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace vigil::base

#endif  // VIGIL_BASE_EXECUTOR_H_
