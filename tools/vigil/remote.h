// The CLI's side of a running vigild: a gRPC channel to --server and the
// bearer token (--token, else $VIGIL_TOKEN). Conversions between the log's
// types and the wire's are api/event_proto.h, statuses api/grpc_status.h.

#ifndef VIGIL_TOOLS_VIGIL_REMOTE_H_
#define VIGIL_TOOLS_VIGIL_REMOTE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eventlog/event.h"

#include "grpcpp/grpcpp.h"
#include "tools/vigil/cli.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::cli {

inline constexpr FlagSpec kServerFlag = {
    "server", "HOST:PORT",
    "talk to a running vigild over gRPC instead of opening --data-dir"};
inline constexpr FlagSpec kTokenFlag = {
    "token", "T", "bearer token for a secured server (default $VIGIL_TOKEN)"};

bool UsesServer(const FlagValues& flags);

std::unique_ptr<vigil::v1::EventStore::Stub> Connect(const FlagValues& flags);

// Adds the bearer token, when there is one, to a call's metadata.
void Authorize(const FlagValues& flags, grpc::ClientContext* context);

// One page of a server-side read: up to `count` events of `stream` from
// revision `from` (forwards or backwards), or, with `stream` null, of the
// whole log from position `from` matching `filter`; in order.
absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadRemotePage(
    const FlagValues& flags, vigil::v1::EventStore::Stub& stub,
    const std::string* stream, uint64_t from, uint64_t count, bool backwards,
    const eventlog::Filter& filter);

}  // namespace vigil::cli

#endif  // VIGIL_TOOLS_VIGIL_REMOTE_H_
