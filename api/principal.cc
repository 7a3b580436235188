#include "api/principal.h"

#include "absl/strings/str_cat.h"

namespace vigil::api {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAgent:
      return "agent";
    case Role::kReader:
      return "reader";
    case Role::kAdmin:
      return "admin";
  }
  return "admin";
}

absl::Status Authorize(const Principal& principal, Action action) {
  bool allowed = false;
  switch (principal.role) {
    case Role::kAdmin:
      allowed = true;
      break;
    case Role::kAgent:
      allowed = action == Action::kAppend || action == Action::kRead;
      break;
    case Role::kReader:
      allowed = action == Action::kRead || action == Action::kSubscribe;
      break;
  }
  if (allowed) return absl::OkStatus();
  static constexpr const char* kActions[] = {"append", "read", "subscribe",
                                             "administer"};
  return absl::PermissionDeniedError(
      absl::StrCat("the role ", std::string(RoleName(principal.role)),
                   " may not ", kActions[static_cast<int>(action)]));
}

Action RequiredAction(Operation operation) {
  switch (operation) {
    case Operation::kAppend:
      return Action::kAppend;
    case Operation::kSubscribe:
      return Action::kSubscribe;
    case Operation::kAdministerWebhooks:
    case Operation::kAdministerAlerts:
      return Action::kAdmin;
    case Operation::kReadStream:
    case Operation::kReadAll:
    case Operation::kGetStream:
    case Operation::kReadModel:
    case Operation::kState:
    case Operation::kDiff:
      return Action::kRead;
  }
  return Action::kAdmin;  // unreachable: the switch covers every operation
}

absl::Status Authorize(const Principal& principal, Operation operation) {
  return Authorize(principal, RequiredAction(operation));
}

}  // namespace vigil::api
