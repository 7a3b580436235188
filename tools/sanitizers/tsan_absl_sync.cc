// ThreadSanitizer annotations for Debian's uninstrumented Abseil.
//
// Debian's libabsl_synchronization is not built with -fsanitize=thread: its
// absl::Mutex, absl::CondVar and absl::Notification synchronize through
// atomics and futexes that ThreadSanitizer never sees, so every access
// guarded by an absl::Mutex (all of Vigil's shared state) would be reported
// as a race. Abseil built with TSan annotates itself with the
// __tsan_mutex_* calls below; this file adds the same annotations from the
// outside. It defines the out-of-line members Vigil's code calls, hidden in
// the executable (so libgrpc's own calls still go to the library); each one
// tells TSan what the operation means and calls the library's own
// definition, found with dlsym(RTLD_NEXT). Linked into every executable of a VIGIL_SANITIZE=thread
// build only (the top-level CMakeLists.txt); never part of a normal build.
//
// Not covered: Notification::HasBeenNotified() is inline and reads an atomic
// the library writes, so it gives no happens-before edge on its own (Vigil
// only waits with WaitForNotification*); Await and CondVar::Wait are
// annotated as exclusive (writer) holds, which is how Vigil uses them.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

#define VIGIL_STR2(x) #x
#define VIGIL_STR(x) VIGIL_STR2(x)

namespace {

// The mangled names below spell Debian's inline namespace.
static_assert(sizeof(VIGIL_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME)) ==
                  sizeof("debian3"),
              "the mangled names below are those of Debian's Abseil 20220623");

// The library's definition of `symbol`; aborts with a message when missing.
template <typename Fn>
Fn Real(const char* symbol) {
  void* fn = dlsym(RTLD_NEXT, symbol);
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found in Abseil\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

#define VIGIL_REAL(type, symbol)                  \
  static const auto real = Real<type>(symbol); \
  (void)0

// Whether this call is the outermost annotated one on its thread. While the
// definitions were exported, the library's calls to its own members
// (AwaitWithTimeout calls AwaitWithDeadline) came back here and were
// annotated twice ("unlock of an unlocked mutex"); hidden, they no longer
// do, and this guard keeps any such nesting annotated once.
class Nesting {
 public:
  Nesting() : outer_(depth_++ == 0) {}
  ~Nesting() { --depth_; }
  bool outer() const { return outer_; }

 private:
  static thread_local int depth_;
  const bool outer_;
};
thread_local int Nesting::depth_ = 0;

// Annotates a blocking lock for its scope: pre-lock now, post-lock (the
// acquire) when the library's call has returned.
class LockScope {
 public:
  LockScope(void* mu, unsigned flags) : mu_(mu), flags_(flags) {
    if (nesting_.outer()) __tsan_mutex_pre_lock(mu_, flags_);
  }
  ~LockScope() {
    if (nesting_.outer()) __tsan_mutex_post_lock(mu_, flags_, 0);
  }

 private:
  Nesting nesting_;
  void* mu_;
  unsigned flags_;
};

// Annotates an unlock for its scope (the release comes first).
class UnlockScope {
 public:
  UnlockScope(void* mu, unsigned flags) : mu_(mu), flags_(flags) {
    if (nesting_.outer()) __tsan_mutex_pre_unlock(mu_, flags_);
  }
  ~UnlockScope() {
    if (nesting_.outer()) __tsan_mutex_post_unlock(mu_, flags_);
  }

 private:
  Nesting nesting_;
  void* mu_;
  unsigned flags_;
};

// Annotates an exclusive hold released for the scope and held again after it
// (Await, CondVar::Wait). Accesses inside the library, and the conditions it
// evaluates there, are ignored, as annotated Abseil does.
class WaitScope {
 public:
  explicit WaitScope(void* mu) : mu_(mu) {
    if (nesting_.outer()) __tsan_mutex_pre_unlock(mu_, 0);
  }
  ~WaitScope() {
    if (!nesting_.outer()) return;
    __tsan_mutex_post_unlock(mu_, 0);
    __tsan_mutex_pre_lock(mu_, 0);
    __tsan_mutex_post_lock(mu_, 0, 0);
  }

 private:
  Nesting nesting_;
  void* mu_;
};

using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::Time;

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  VIGIL_REAL(void (*)(Mutex*), "_ZN4absl7debian35MutexD2Ev");
  __tsan_mutex_destroy(this, __tsan_mutex_not_static);
  real(this);
}

void Mutex::Lock() {
  VIGIL_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  LockScope lock(this, 0);
  real(this);
}

void Mutex::ReaderLock() {
  VIGIL_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  LockScope lock(this, __tsan_mutex_read_lock);
  real(this);
}

bool Mutex::TryLock() {
  VIGIL_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  const Nesting nesting;
  if (!nesting.outer()) return real(this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool locked = real(this);
  __tsan_mutex_post_lock(
      this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed),
      0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  VIGIL_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const Nesting nesting;
  if (!nesting.outer()) return real(this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_read_lock);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this,
                         locked ? __tsan_mutex_try_read_lock
                                : __tsan_mutex_try_read_lock_failed,
                         0);
  return locked;
}

void Mutex::Unlock() {
  VIGIL_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  UnlockScope unlock(this, 0);
  real(this);
}

void Mutex::ReaderUnlock() {
  VIGIL_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  UnlockScope unlock(this, __tsan_mutex_read_lock);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  VIGIL_REAL(void (*)(Mutex*, const Condition&),
             "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  LockScope lock(this, 0);
  real(this, cond);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  VIGIL_REAL(void (*)(Mutex*, const Condition&),
             "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  LockScope lock(this, __tsan_mutex_read_lock);
  real(this, cond);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  VIGIL_REAL(
      bool (*)(Mutex*, const Condition&, Duration),
      "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_"
      "8DurationE");
  LockScope lock(this, 0);
  return real(this, cond, timeout);
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  VIGIL_REAL(bool (*)(Mutex*, const Condition&, Time),
             "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_"
             "4TimeE");
  LockScope lock(this, 0);
  return real(this, cond, deadline);
}

void Mutex::Await(const Condition& cond) {
  VIGIL_REAL(void (*)(Mutex*, const Condition&),
             "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  WaitScope wait(this);
  real(this, cond);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  VIGIL_REAL(bool (*)(Mutex*, const Condition&, Duration),
             "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_"
             "8DurationE");
  WaitScope wait(this);
  return real(this, cond, timeout);
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  VIGIL_REAL(bool (*)(Mutex*, const Condition&, Time),
             "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_"
             "4TimeE");
  WaitScope wait(this);
  return real(this, cond, deadline);
}

void CondVar::Wait(Mutex* mu) {
  VIGIL_REAL(void (*)(CondVar*, Mutex*),
             "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  WaitScope wait(mu);
  real(this, mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  VIGIL_REAL(bool (*)(CondVar*, Mutex*, Duration),
             "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_"
             "8DurationE");
  WaitScope wait(mu);
  return real(this, mu, timeout);
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  VIGIL_REAL(bool (*)(CondVar*, Mutex*, Time),
             "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  WaitScope wait(mu);
  return real(this, mu, deadline);
}

void Notification::Notify() {
  VIGIL_REAL(void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  const Nesting nesting;
  if (nesting.outer()) __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  VIGIL_REAL(void (*)(const Notification*),
             "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  const Nesting nesting;
  real(this);
  if (nesting.outer()) __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  VIGIL_REAL(bool (*)(const Notification*, Duration),
             "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_"
             "8DurationE");
  const Nesting nesting;
  const bool notified = real(this, timeout);
  if (nesting.outer()) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  VIGIL_REAL(bool (*)(const Notification*, Time),
             "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_"
             "4TimeE");
  const Nesting nesting;
  const bool notified = real(this, deadline);
  if (nesting.outer()) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
