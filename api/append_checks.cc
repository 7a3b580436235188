#include "api/append_checks.h"

#include "absl/strings/str_cat.h"
#include "api/domain_events.h"
#include "api/event_json.h"

namespace vigil::api {

bool IsReservedStream(std::string_view stream) {
  return !stream.empty() && stream.front() == '$';
}

absl::Status CheckClientAppend(const eventlog::AppendRequest& request) {
  if (IsReservedStream(request.stream)) {
    std::string name;
    AppendJsonString(request.stream, &name);
    return absl::PermissionDeniedError(
        absl::StrCat("stream ", name,
                     " is reserved for the system (names starting with $)"));
  }
  return ValidateDomainEvents(request.events);
}

}  // namespace vigil::api
