// Polls a condition until it holds or a timeout passes, for tests that
// wait on another process (vigild, PostgreSQL).

#ifndef VIGIL_TESTS_TESTING_WAIT_UNTIL_H_
#define VIGIL_TESTS_TESTING_WAIT_UNTIL_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vigil::testing {

// Calls `done` every `poll` until it returns true (true) or `timeout`
// passes (then one last call decides).
template <typename F>
bool WaitUntil(F done, absl::Duration timeout,
               absl::Duration poll = absl::Milliseconds(50)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(poll);
  }
  return done();
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_WAIT_UNTIL_H_
