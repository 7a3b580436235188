#include "tools/vigil/remote.h"

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "api/event_proto.h"
#include "api/grpc_status.h"

namespace vigil::cli {

bool UsesServer(const FlagValues& flags) { return flags.Has("server"); }

std::unique_ptr<vigil::v1::EventStore::Stub> Connect(const FlagValues& flags) {
  // Appends of up to 4 MiB of events (the server's default limit) fit.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  args.SetMaxSendMessageSize(8 << 20);
  // A connection of its own: channels with equal arguments would otherwise
  // share one (the bench's clients are meant to be separate connections).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return vigil::v1::EventStore::NewStub(grpc::CreateCustomChannel(
      std::string(flags.Get("server")), grpc::InsecureChannelCredentials(),
      args));
}

void Authorize(const FlagValues& flags, grpc::ClientContext* context) {
  std::string token(flags.Get("token"));
  if (token.empty()) {
    const char* env = std::getenv("VIGIL_TOKEN");
    if (env != nullptr) token = env;
  }
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
}

absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadRemotePage(
    const FlagValues& flags, vigil::v1::EventStore::Stub& stub,
    const std::string* stream, uint64_t from, uint64_t count, bool backwards,
    const eventlog::Filter& filter) {
  grpc::ClientContext context;
  Authorize(flags, &context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  std::unique_ptr<grpc::ClientReader<vigil::v1::RecordedEvent>> reader;
  if (stream != nullptr) {
    vigil::v1::ReadStreamRequest request;
    request.set_stream(*stream);
    request.set_from_revision(from);
    request.set_max_count(count);
    request.set_backwards(backwards);
    reader = stub.ReadStream(&context, request);
  } else {
    vigil::v1::ReadAllRequest request;
    request.set_from_position(from);
    request.set_max_count(count);
    for (const std::string& p : filter.stream_prefixes) {
      request.mutable_filter()->add_stream_prefixes(p);
    }
    for (const std::string& t : filter.event_types) {
      request.mutable_filter()->add_event_types(t);
    }
    reader = stub.ReadAll(&context, request);
  }
  std::vector<eventlog::RecordedEvent> events;
  vigil::v1::RecordedEvent event;
  while (reader->Read(&event)) events.push_back(api::FromProto(event));
  grpc::Status status = reader->Finish();
  if (!status.ok()) return api::FromGrpcStatus(status, &context);
  return events;
}

}  // namespace vigil::cli
