// The query strings of the GET routes, through the functions the gateway
// calls on them: api::SplitQuery (every route), ParsePaging (the event
// reads' from and limit), ParseStateQuery and ParseDiffQuery (time travel:
// at, from, to, from_time, ...), ParseReadModelRequest (the read models'
// min_position, limit, cursor, filters; the path comes from the first
// byte). Property: what SplitQuery accepts, percent-encoded again in full,
// splits back to the same names and values.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "api/query_string.h"
#include "gateway/internal/event_reads.h"
#include "gateway/internal/read_model_routes.h"
#include "gateway/internal/state_routes.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vigil::fuzz::Check;

std::string PercentEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) absl::StrAppendFormat(&out, "%%%02X", c);
  return out;
}

constexpr std::string_view kPaths[] = {
    "/v1/agents",          "/v1/agents/a%2Fb",       "/v1/tasks",
    "/v1/tasks/t-1",       "/v1/coordination",       "/v1/metrics/agents/a",
    "/v1/usage",           "/v1/projections",        "/v1/traces/0af7651916cd43dd8448eb211c80319c",
    "/v1/tasks/t-1/spans",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view path = kPaths[data[0] % std::size(kPaths)];
  std::string_view query(reinterpret_cast<const char*>(data + 1), size - 1);

  absl::StatusOr<std::vector<vigil::api::QueryParam>> params =
      vigil::api::SplitQuery(query);
  if (params.ok()) {
    std::string again;
    for (const vigil::api::QueryParam& param : *params) {
      if (!again.empty()) again += '&';
      again += PercentEncode(param.name) + "=" + PercentEncode(param.value);
    }
    absl::StatusOr<std::vector<vigil::api::QueryParam>> reparsed =
        vigil::api::SplitQuery(again);
    Check(reparsed.ok());
    // A part that decodes to an empty name and value ("=") is still a part.
    Check(reparsed->size() == params->size());
    for (size_t i = 0; i < params->size(); ++i) {
      Check((*reparsed)[i].name == (*params)[i].name);
      Check((*reparsed)[i].value == (*params)[i].value);
      Check((*reparsed)[i].literal == (*params)[i].value);
    }
  }

  absl::StatusOr<vigil::gateway::internal::Paging> paging =
      vigil::gateway::internal::ParsePaging(query, 100, 1000);
  if (paging.ok()) Check(paging->limit >= 1 && paging->limit <= 1000);
  (void)vigil::gateway::internal::ParseStateQuery(query);
  (void)vigil::gateway::internal::ParseDiffQuery(query);
  (void)vigil::gateway::internal::ParseReadModelRequest(path, query);

  uint64_t number = 0;
  if (vigil::api::ParseDecimal(query, &number)) {
    // Leading zeros are digits too; the value is what they say.
    std::string printed = std::to_string(number);
    Check(query.size() >= printed.size() &&
          query.substr(query.size() - printed.size()) == printed);
  }
  return 0;
}
