#include "tools/vigil/remote.h"

#include <cstdlib>

namespace vigil::cli {

bool UsesServer(const FlagValues& flags) { return flags.Has("server"); }

std::unique_ptr<vigil::v1::EventStore::Stub> Connect(const FlagValues& flags) {
  // Appends of up to 4 MiB of events (the server's default limit) fit.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  args.SetMaxSendMessageSize(8 << 20);
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

}  // namespace vigil::cli
