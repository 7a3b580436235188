// Where the mirror publishes a Vigil stream's events: one NATS subject per
// stream, "<prefix>.<escaped stream name>" (docs/replication.md "Subjects").
// A stream name becomes one subject token: every byte outside
// [A-Za-z0-9_:-] is written as %XX (two uppercase hex digits), so the dots
// of "orders.eu" cannot split the token ("vigil.orders%2Eeu"), the '$' of a
// system stream is "%24", and the mapping is one-to-one and reversible.
// Pure functions, safe from any thread.

#ifndef VIGIL_REPLICATION_SUBJECT_H_
#define VIGIL_REPLICATION_SUBJECT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::replication {

// The subject of `stream`'s events under `prefix` (a subject of one or more
// tokens, checked by CheckSubjectPrefix).
std::string SubjectFor(std::string_view prefix, std::string_view stream);

// The stream name SubjectFor encoded in `subject`; INVALID_ARGUMENT when
// `subject` is not "<prefix>.<token>" or its token is not an encoding
// SubjectFor produces.
absl::StatusOr<std::string> StreamOfSubject(std::string_view prefix,
                                            std::string_view subject);

// OK when `prefix` is usable: tokens of [A-Za-z0-9_-] separated by single
// dots, no wildcard, not starting with '$' (NATS's own subjects), at most
// 100 bytes; INVALID_ARGUMENT naming the problem otherwise.
absl::Status CheckSubjectPrefix(std::string_view prefix);

}  // namespace vigil::replication

#endif  // VIGIL_REPLICATION_SUBJECT_H_
