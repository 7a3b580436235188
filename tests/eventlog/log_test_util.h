// Small builders shared by the event log tests.

#ifndef VIGIL_TESTS_EVENTLOG_LOG_TEST_UTIL_H_
#define VIGIL_TESTS_EVENTLOG_LOG_TEST_UTIL_H_

#include <string>
#include <vector>

#include "eventlog/event.h"

namespace vigil::eventlog::testing {

inline EventData Json(std::string type, std::string data = "{}") {
  return EventData{.type = std::move(type), .data = std::move(data)};
}

inline AppendRequest Request(std::string stream, std::vector<EventData> events,
                             ExpectedRevision expected = ExpectedRevision::Any(),
                             std::string key = "") {
  return AppendRequest{.stream = std::move(stream),
                       .expected_revision = expected,
                       .idempotency_key = std::move(key),
                       .events = std::move(events)};
}

}  // namespace vigil::eventlog::testing

#endif  // VIGIL_TESTS_EVENTLOG_LOG_TEST_UTIL_H_
