// LogHead: the log's head position (the last durable position) and who
// waits for it: EventLog::HeadPosition, WaitForHead and the head listeners.
//
// Threads: Get, WaitFor, AddListener and RemoveListener from any thread.
// Publish from one thread at a time (the writer, or Start/Refresh before and
// without it); Notify from the writer thread only, after Publish.

#ifndef VIGIL_EVENTLOG_INTERNAL_LOG_HEAD_H_
#define VIGIL_EVENTLOG_INTERNAL_LOG_HEAD_H_

#include <atomic>
#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"

namespace vigil::eventlog::internal {

class LogHead {
 public:
  LogHead() = default;
  LogHead(const LogHead&) = delete;
  LogHead& operator=(const LogHead&) = delete;

  // The last published head; lock-free.
  uint64_t Get() const { return head_.load(std::memory_order_acquire); }

  // Makes `head` the head and wakes WaitFor.
  void Publish(uint64_t head);

  // Blocks until Get() > `position` or `deadline` passes; returns Get() then.
  uint64_t WaitFor(uint64_t position, absl::Time deadline) const;

  // As EventLog::AddHeadListener and RemoveHeadListener.
  uint64_t AddListener(EventLog::HeadListener listener);
  void RemoveListener(uint64_t handle);

  // Calls every listener with `head`, under the listeners' lock.
  void Notify(uint64_t head);

 private:
  // The head is read lock-free; mu_ only serves WaitFor.
  mutable absl::Mutex mu_;
  std::atomic<uint64_t> head_{0};

  absl::Mutex listeners_mu_;
  std::map<uint64_t, EventLog::HeadListener> listeners_
      ABSL_GUARDED_BY(listeners_mu_);
  uint64_t next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 1;
};

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_LOG_HEAD_H_
