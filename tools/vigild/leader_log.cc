#include "tools/vigild/leader_log.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/event_proto.h"
#include "api/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::vigild {
namespace {

// A forwarded append's idempotency key: "vigild-forward-" and 32 random
// hex digits, one per LeaderLog::Append, the same for its retries.
std::string NewForwardKey() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
  return absl::StrCat("vigild-forward-",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(bytes), sizeof(bytes))));
}

// The call failed in a way that may have lost the leader's answer (the
// append may be in its log): a retry with the same key is deduplicated.
bool MayBeLostAnswer(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace

class LeaderLog::Channel {
 public:
  explicit Channel(std::string target)
      : target_(std::move(target)),
        stub_(v1::EventStore::NewStub(grpc::CreateChannel(
            target_, grpc::InsecureChannelCredentials()))) {}
  const std::string& target() const { return target_; }
  v1::EventStore::Stub& stub() { return *stub_; }

 private:
  const std::string target_;
  std::unique_ptr<v1::EventStore::Stub> stub_;
};

LeaderLog::LeaderLog(LeaderLogOptions options, eventlog::EventLog* local)
    : ForwardingLog(local), options_(std::move(options)) {}

LeaderLog::~LeaderLog() = default;

absl::StatusOr<eventlog::AppendResult> LeaderLog::Append(
    const eventlog::AppendRequest& request) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> leader = options_.leader();
  if (!leader.ok()) return leader.status();
  if (leader->empty()) return target()->Append(request);
  return AppendAt(*leader, request);
}

absl::StatusOr<eventlog::AppendResult> LeaderLog::AppendAt(
    const std::string& leader, const eventlog::AppendRequest& request) {
  eventlog::AppendRequest keyed = request;
  if (keyed.idempotency_key.empty() && options_.idempotency_keys) {
    keyed.idempotency_key = NewForwardKey();
  }
  absl::StatusOr<eventlog::AppendResult> called = Call(leader, keyed);
  for (int attempt = 1; attempt < options_.attempts &&
                        MayBeLostAnswer(called.status());
       ++attempt) {
    absl::StatusOr<std::string> now = options_.leader();
    if (!now.ok() || *now != leader) break;  // it does not know the key
    called = Call(leader, keyed);
  }
  if (!called.ok()) return called.status();
  const eventlog::AppendResult result = *called;
  // Back through the stream: the caller reads its own log.
  const absl::Time deadline = absl::Now() + options_.arrival_timeout;
  if (target()->WaitForHead(result.last_position - 1, deadline) <
      result.last_position) {
    return absl::DeadlineExceededError(absl::StrCat(
        "appended to ", request.stream, " at position ",
        result.last_position, " on the leader at ", leader,
        ", but this vigild's log did not hold it within ",
        absl::FormatDuration(options_.arrival_timeout)));
  }
  return result;
}

absl::StatusOr<eventlog::AppendResult> LeaderLog::Call(
    const std::string& leader, const eventlog::AppendRequest& request) {
  // A new leader: a new channel (the old one's connection closes with it).
  if (channel_ == nullptr || channel_->target() != leader) {
    channel_ = std::make_unique<Channel>(leader);
  }
  v1::AppendRequest proto;
  api::ToProto(request, &proto);
  v1::AppendResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  if (!options_.token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options_.token);
  }
  const grpc::Status status = channel_->stub().Append(&context, proto, &response);
  if (!status.ok()) {
    const absl::Status failed = api::FromGrpcStatus(status, &context);
    return absl::Status(
        failed.code(), absl::StrCat("appending to ", request.stream,
                                    " on the leader at ", leader, ": ",
                                    failed.message()));
  }
  return api::FromProto(response);
}

void LeaderLog::AppendAsync(const eventlog::AppendRequest& request,
                            AppendCallback done) {
  (void)request;
  done(absl::UnimplementedError("LeaderLog appends with Append only"));
}

absl::StatusOr<eventlog::AppendResult> LeaderLog::Import(
    const std::vector<eventlog::RecordedEvent>& events) {
  (void)events;
  return absl::UnimplementedError("LeaderLog does not import");
}

}  // namespace vigil::vigild
