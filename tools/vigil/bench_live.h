// vigil bench --what live: N WebSocket clients on /v1/live while events are
// appended over gRPC at a fixed rate; reports delivery latency from append
// acknowledgement to receipt, frames per second, vigild's RSS, and CPU per
// frame received: the server's (--pid, from /proc/<pid>/stat; any server
// process, e.g. the Node peer's) and the client's own (getrusage). Its own
// translation unit because it is the CLI's only Beast code.

#ifndef VIGIL_TOOLS_VIGIL_BENCH_LIVE_H_
#define VIGIL_TOOLS_VIGIL_BENCH_LIVE_H_

#include "tools/vigil/cli.h"

namespace vigil::cli {

// Flags: --server (gRPC), --http (HOST:PORT of /v1/live, default
// 127.0.0.1:7601), --connections, --rate (events/s), --duration, --size,
// --pid (the server's, for its RSS and CPU). Raises the soft RLIMIT_NOFILE
// as vigild does. Prints one JSON line; exit code as usual.
int RunBenchLive(const FlagValues& flags);

}  // namespace vigil::cli

#endif  // VIGIL_TOOLS_VIGIL_BENCH_LIVE_H_
