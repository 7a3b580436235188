// vigild's open-file limit. Every connection is a file descriptor: the
// HTTP server admits 1,024 connections (HttpServerOptions::max_connections)
// and answers the next one 503, the live feed 10,000, gRPC has no cap of its
// own, and RocksDB keeps its files open. Shells and systemd services start a
// process with a soft RLIMIT_NOFILE of 1,024 (and a hard limit far higher):
// there, 1,000 clients that never finish their headers used every descriptor,
// accept() failed with EMFILE, and a new client got no answer at all instead
// of its 503 (found by tools/netfuzz). So vigild raises the soft limit to the
// hard one at start, as Go programs and nginx's worker_rlimit_nofile do.
// docs/operations.md "Limits and bounds".

#ifndef VIGIL_TOOLS_VIGILD_FILE_LIMIT_H_
#define VIGIL_TOOLS_VIGILD_FILE_LIMIT_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace vigil::vigild {

// Raises the soft RLIMIT_NOFILE to the hard limit (capped at `cap`, so an
// unlimited hard limit does not become an absurd soft one). Returns the soft
// limit now in force; an error only when getrlimit or setrlimit fails.
absl::StatusOr<uint64_t> RaiseFileLimit(uint64_t cap = 1 << 20);

}  // namespace vigil::vigild

#endif  // VIGIL_TOOLS_VIGILD_FILE_LIMIT_H_
