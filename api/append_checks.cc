#include "api/append_checks.h"

#include "absl/strings/str_cat.h"
#include "api/domain_events.h"
#include "base/json.h"

namespace vigil::api {

bool IsReservedStream(std::string_view stream) {
  return !stream.empty() && stream.front() == '$';
}

absl::Status CheckClientAppend(const eventlog::AppendRequest& request,
                               EventSource source) {
  if (IsReservedStream(request.stream)) {
    return absl::PermissionDeniedError(
        absl::StrCat("stream ", base::JsonString(request.stream),
                     " is reserved for the system (names starting with $)"));
  }
  if (source == EventSource::kServerBuilt) return absl::OkStatus();
  return ValidateDomainEvents(request.events);
}

}  // namespace vigil::api
