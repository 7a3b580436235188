// The one decoder of URL query strings and path segments, for every route
// of the HTTP API (REST reads, time travel, the live feed).
//
// The rule for '+': in a query string it is a space, as HTML forms and
// URLSearchParams send it (application/x-www-form-urlencoded), in names and
// in text values (ids, filters, tokens, cursors). A value read as a number
// or a time keeps '+' as itself (QueryParam::literal), so an RFC 3339
// offset may be sent unencoded: from_time=2026-01-02T03:04:05+02:00. A
// space in a text value may be sent as '+' or %20; a '+' in one must be
// sent as %2B. In a path segment '+' is always itself (RFC 3986).
//
// %XX is the byte XX (either case); anything else is a malformed escape.
// Every decoded name and value must be UTF-8 without NUL: no id, filter or
// time can hold anything else.
//
// Pure functions; any thread.

#ifndef VIGIL_API_QUERY_STRING_H_
#define VIGIL_API_QUERY_STRING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::api {

struct QueryParam {
  std::string name;     // '+' decoded as a space
  std::string value;    // '+' decoded as a space: for text values
  std::string literal;  // '+' kept: for values read as numbers or times
};

// The `name=value` parts of `query` (what follows '?'), decoded, in the
// order given. Empty parts are skipped; a part without '=' has an empty
// value. Repeats are kept (the caller decides). INVALID_ARGUMENT naming the
// parameter for a malformed escape, a NUL or a byte sequence that is not
// UTF-8.
absl::StatusOr<std::vector<QueryParam>> SplitQuery(std::string_view query);

// One percent-decoded path segment ('+' is itself), named `what` in the
// error (INVALID_ARGUMENT, as for SplitQuery).
absl::StatusOr<std::string> DecodePathSegment(std::string_view segment,
                                              std::string_view what);

// Decimal digits only: no sign, no space, no overflow. For positions,
// revisions and limits.
bool ParseDecimal(std::string_view text, uint64_t* value);

}  // namespace vigil::api

#endif  // VIGIL_API_QUERY_STRING_H_
