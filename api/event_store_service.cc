// The vigil.v1.EventStore gRPC service (event_store_service.h): its RPCs
// parse their messages, call the append path, the log (through a LogCursor
// for ReadAll), the subscription hub or time travel, and map the status.
// One concept, the service; over ~500 lines because the paged streaming
// reads need their reactor (flow control, bounded pages, cancellation).

#include "api/event_store_service.h"

#include <algorithm>
#include <climits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/event_proto.h"
#include "api/grpc_calls.h"
#include "api/grpc_status.h"
#include "api/status_mapping.h"
#include "base/status_macros.h"
#include "eventlog/log_cursor.h"

namespace vigil::api {
namespace {

// Nothing is known of event sizes before the first page.
constexpr size_t kFirstPageEvents = 16;

// Too much reading at once: the client should back off and retry.
absl::Status ReadersBusy() {
  return RateLimitedError("the server is busy reading; retry in a second", 1);
}

}  // namespace

int MaxReceiveMessageBytes(const eventlog::Options& options) {
  constexpr size_t kHeadroom = 1 << 20;
  return static_cast<int>(
      std::min<size_t>(options.max_append_bytes + kHeadroom, INT_MAX));
}

// One ReadStream or ReadAll call. State, all under mu_: a page read in
// flight on the executor (`reading_`), a write in flight to the client
// (`writing_`), and the events of the page not yet written. The next page is
// read only once the last one is written.
//
// gRPC may run a reaction inline inside StartWrite or Finish, so neither is
// called under mu_: methods decide under the lock (claiming the write or
// the finish) and act after releasing it (Act).
//
// Lifetime: gRPC calls OnDone once, after Finish; the object deletes itself
// when OnDone has run and no read is in flight (a read holds `this`).
class EventStoreService::PagedReader
    : public grpc::ServerWriteReactor<vigil::v1::RecordedEvent> {
 public:
  PagedReader(EventStoreService* service, std::string_view method,
              uint64_t max_count)
      : service_(service),
        method_(method),
        open_before_(service->active_reads_.fetch_add(1)),
        remaining_(max_count != 0 ? max_count
                                  : service->options_.default_max_count),
        page_limit_(std::max<size_t>(
            1, std::min(service->options_.page_events, kFirstPageEvents))) {}

  ~PagedReader() override { service_->active_reads_.fetch_sub(1); }

  // Reads the first page, or refuses the call when too many are open.
  void Begin() {
    Step([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (open_before_ >= options().max_active_reads) {
        FinishLocked(ReadersBusy());
      } else {
        AdvanceLocked();
      }
    });
  }

  void OnWriteDone(bool ok) override {
    Step([this, ok]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      writing_ = false;
      if (ok) {
        AdvanceLocked();
      } else {  // the client is gone or the call was cancelled
        FinishLocked(absl::CancelledError("the read was cancelled"));
      }
    });
  }

  void OnCancel() override {
    Step([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      FinishLocked(absl::CancelledError("the read was cancelled"));
    });
  }

  void OnDone() override {
    bool release;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      release = !reading_;
    }
    if (release) delete this;
  }

 protected:
  // On the executor, one call at a time (so subclasses need no lock for
  // their cursor): up to `count` (>= 1) more events; sets *end when none
  // follow them.
  virtual absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadMore(
      size_t count, bool* end) = 0;

  const Core& core() const { return service_->core_; }
  const ServiceOptions& options() const { return service_->options_; }

 private:
  // What to do once mu_ is released: at most one of them.
  struct Actions {
    bool write = false;
    std::optional<grpc::Status> finish;
  };

  Actions TakeActionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Actions actions;
    actions.write = std::exchange(write_claimed_, false);
    // A finish waits for the write in flight; OnWriteDone brings it here.
    if (finish_claimed_.has_value() && !writing_) {
      actions.finish = std::exchange(finish_claimed_, std::nullopt);
    }
    return actions;
  }

  // Runs `decide` under mu_, then does what it claimed.
  template <typename Decide>
  void Step(Decide decide) {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      decide();
      actions = TakeActionsLocked();
    }
    Act(actions);
  }

  // After either call `this` may be gone: gRPC can run OnWriteDone and
  // OnDone inline.
  void Act(const Actions& actions) {
    if (actions.write) {
      StartWrite(&current_);
    } else if (actions.finish.has_value()) {
      Finish(*actions.finish);
    }
  }

  // The next step: write the next event of the page, read the next page,
  // or finish when everything asked for was written.
  void AdvanceLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || reading_) return;
    if (next_in_page_ < page_.size()) {
      ToProto(page_[next_in_page_++], &current_);
      if (next_in_page_ == page_.size()) {
        page_.clear();
        next_in_page_ = 0;
      }
      writing_ = true;
      write_claimed_ = true;
      return;
    }
    if (end_ || remaining_ == 0) {
      FinishLocked(absl::OkStatus());
      return;
    }
    reading_ = true;
    if (!service_->readers_.Schedule([this] { ReadPage(); })) {
      reading_ = false;
      FinishLocked(ReadersBusy());
    }
  }

  // On the executor.
  void ReadPage() {
    std::optional<size_t> count;
    {
      absl::MutexLock lock(&mu_);
      // Nothing to read for a call that is already over.
      if (!finished_) count = std::min<uint64_t>(remaining_, page_limit_);
    }
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> page =
        std::vector<eventlog::RecordedEvent>();
    bool end = false;
    if (count.has_value()) page = ReadMore(*count, &end);

    Actions actions;
    bool release;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!page.ok()) {
        FinishLocked(page.status());
      } else if (!finished_) {
        remaining_ -= std::min<uint64_t>(remaining_, page->size());
        end_ = end;
        AdaptPageLimitLocked(*page);
        page_ = *std::move(page);
        next_in_page_ = 0;
        AdvanceLocked();
      }
      actions = TakeActionsLocked();
      release = done_;  // and no read in flight, as of now
    }
    if (release) {
      // OnDone has run, so gRPC takes no more writes or finish.
      delete this;
      return;
    }
    Act(actions);
  }

  // Aims the next page at options().page_bytes, from the sizes just read.
  void AdaptPageLimitLocked(const std::vector<eventlog::RecordedEvent>& page)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (page.empty()) return;
    size_t bytes = 0;
    for (const eventlog::RecordedEvent& event : page) {
      bytes += event.data.size() + event.metadata.size();
    }
    const size_t average = std::max<size_t>(1, bytes / page.size());
    page_limit_ =
        std::clamp<size_t>(options().page_bytes / average, 1,
                           std::max<size_t>(1, options().page_events));
  }

  // Claims the end of the call, once.
  void FinishLocked(const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    page_.clear();
    service_->CountRequest(method_, status);
    // A read fails with no status that carries a trailer: no context needed.
    finish_claimed_ = ToGrpcStatus(status, nullptr);
  }

  EventStoreService* const service_;
  const std::string_view method_;  // a literal: "ReadStream", "ReadAll"
  const size_t open_before_;  // reads open when this one began

  absl::Mutex mu_;
  uint64_t remaining_ ABSL_GUARDED_BY(mu_);  // events still to read
  size_t page_limit_ ABSL_GUARDED_BY(mu_);   // events in the next page
  std::vector<eventlog::RecordedEvent> page_ ABSL_GUARDED_BY(mu_);
  size_t next_in_page_ ABSL_GUARDED_BY(mu_) = 0;
  vigil::v1::RecordedEvent current_;  // the write in flight
  bool write_claimed_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_claimed_ ABSL_GUARDED_BY(mu_);
  bool end_ ABSL_GUARDED_BY(mu_) = false;  // nothing follows the page
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

class EventStoreService::StreamReader final : public PagedReader {
 public:
  static constexpr std::string_view kMethod = "ReadStream";
  StreamReader(EventStoreService* service, Principal principal,
               const vigil::v1::ReadStreamRequest& request)
      : PagedReader(service, kMethod, request.max_count()),
        principal_(std::move(principal)),
        stream_(request.stream()),
        backwards_(request.backwards()),
        from_revision_(request.from_revision()) {}

 private:
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadMore(
      size_t count, bool* end) override {
    ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> page,
                     core().ReadStream(principal_,
                                       {.stream = stream_,
                                        .from_revision = from_revision_,
                                        .max_count = count,
                                        .backwards = backwards_}));
    if (page.size() < count || (backwards_ && page.back().revision == 0)) {
      *end = true;
    } else {
      from_revision_ =
          backwards_ ? page.back().revision - 1 : page.back().revision + 1;
    }
    return page;
  }

  const Principal principal_;
  const std::string stream_;
  const bool backwards_;
  uint64_t from_revision_;  // of the next page
};

class EventStoreService::AllReader final : public PagedReader {
 public:
  static constexpr std::string_view kMethod = "ReadAll";
  // `cursor`: from Core::ReadAll.
  AllReader(EventStoreService* service,
            const vigil::v1::ReadAllRequest& request,
            eventlog::LogCursor cursor)
      : PagedReader(service, kMethod, request.max_count()),
        cursor_(std::move(cursor)) {}

 private:
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadMore(
      size_t count, bool* end) override {
    ASSIGN_OR_RETURN(eventlog::CursorPage page, cursor_.Next(count));
    *end = cursor_.AtEnd();
    return std::move(page.events);
  }

  eventlog::LogCursor cursor_;  // only the page read in flight uses it
};

namespace {

// A streaming call refused before it began: finishes at once, and gRPC's
// OnDone deletes it.
template <typename Reactor>
class Refused final : public Reactor {
 public:
  explicit Refused(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};
template <typename Response>
using Refusal = Refused<grpc::ServerWriteReactor<Response>>;

}  // namespace

EventStoreService::EventStoreService(eventlog::EventLog* log,
                                     SubscriptionHub* hub,
                                     ServiceOptions options,
                                     const Authenticator* authenticator,
                                     RateLimiter* rate_limiter,
                                     base::Metrics* metrics,
                                     StateQueries* state_queries,
                                     AppendPath* append_path)
    : log_(log),
      hub_(hub),
      options_(options),
      authenticator_(authenticator),
      own_appends_(append_path != nullptr
                       ? nullptr
                       : std::make_unique<AppendPath>(
                             log, AppendPathOptions{}, rate_limiter, metrics)),
      core_({.log = log,
             .append_path =
                 append_path != nullptr ? append_path : own_appends_.get(),
             .state_queries = state_queries}),
      sessions_(&core_, options.append_session),
      calls_(metrics),
      readers_("vigil-read", options.reader_threads, options.max_queued_reads) {
}

EventStoreService::~EventStoreService() = default;

grpc::ServerUnaryReactor* EventStoreService::Append(
    grpc::CallbackServerContext* context,
    const vigil::v1::AppendRequest* request,
    vigil::v1::AppendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (context->IsCancelled()) {  // nothing appended for a call that is over
    reactor->Finish(grpc::Status::CANCELLED);
    return reactor;
  }
  auto finish = [this, context, reactor](const absl::Status& status) {
    CountRequest("Append", status);
    reactor->Finish(ToGrpcStatus(status, context));
  };
  absl::StatusOr<Principal> principal = Admit(context, Operation::kAppend);
  if (!principal.ok()) {
    finish(principal.status());
    return reactor;
  }
  absl::StatusOr<eventlog::AppendRequest> append = FromProto(*request);
  if (!append.ok()) {
    finish(append.status());
    return reactor;
  }
  // On the log's completion thread, or here when refused at once.
  core_.Append(*principal, *std::move(append),
                   [finish, response](
                       absl::StatusOr<eventlog::AppendResult> result) {
                     if (result.ok()) ToProto(*result, response);
                     finish(result.status());
                   });
  return reactor;
}

AppendSessions::Reactor* EventStoreService::AppendSession(
    grpc::CallbackServerContext* context) {
  CountStarted("AppendSession");
  absl::StatusOr<Principal> principal = Admit(context, Operation::kAppend);
  if (!principal.ok()) {
    CountRequest("AppendSession", principal.status());
    return new Refused<AppendSessions::Reactor>(
        ToGrpcStatus(principal.status(), context));
  }
  return sessions_.Start(*std::move(principal),
                         [this](const absl::Status& status) {
                           CountRequest("AppendSession", status);
                         });
}

void EventStoreService::StopAppendSessions() { sessions_.Stop(); }

size_t EventStoreService::active_append_sessions() const {
  return sessions_.active();
}

grpc::ServerWriteReactor<vigil::v1::RecordedEvent>*
EventStoreService::ReadStream(grpc::CallbackServerContext* context,
                              const vigil::v1::ReadStreamRequest* request) {
  CountStarted("ReadStream");
  absl::StatusOr<Principal> principal = Admit(context, Operation::kReadStream);
  if (!principal.ok()) {
    CountRequest("ReadStream", principal.status());
    return new Refusal<vigil::v1::RecordedEvent>(
        ToGrpcStatus(principal.status(), context));
  }
  auto* reader = new StreamReader(this, *std::move(principal), *request);
  reader->Begin();
  return reader;
}

grpc::ServerWriteReactor<vigil::v1::RecordedEvent>* EventStoreService::ReadAll(
    grpc::CallbackServerContext* context,
    const vigil::v1::ReadAllRequest* request) {
  CountStarted("ReadAll");
  absl::StatusOr<Principal> principal = Admit(context, Operation::kReadAll);
  absl::StatusOr<eventlog::LogCursor> cursor =
      !principal.ok()
          ? absl::StatusOr<eventlog::LogCursor>(principal.status())
          // Up to the head when the call began.
          : core_.ReadAll(*principal,
                          {.from_position = request->from_position(),
                           .filter = FromProto(request->filter()),
                           .options = {.page_scan = options_.page_scan,
                                       .end_position = log_->HeadPosition()}});
  if (!cursor.ok()) {
    CountRequest("ReadAll", cursor.status());
    return new Refusal<vigil::v1::RecordedEvent>(
        ToGrpcStatus(cursor.status(), context));
  }
  auto* reader = new AllReader(this, *request, *std::move(cursor));
  reader->Begin();
  return reader;
}

grpc::ServerWriteReactor<vigil::v1::SubscribeResponse>*
EventStoreService::Subscribe(grpc::CallbackServerContext* context,
                             const vigil::v1::SubscribeRequest* request) {
  CountStarted("Subscribe");
  if (absl::StatusOr<Principal> p = Admit(context, Operation::kSubscribe);
      !p.ok()) {
    CountRequest("Subscribe", p.status());
    return new Refusal<vigil::v1::SubscribeResponse>(
        ToGrpcStatus(p.status(), context));
  }
  return hub_->Start(context, request, [this](const absl::Status& status) {
    CountRequest("Subscribe", status);
  });
}

grpc::ServerUnaryReactor* EventStoreService::GetStream(
    grpc::CallbackServerContext* context,
    const vigil::v1::GetStreamRequest* request,
    vigil::v1::StreamInfo* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Principal> principal = Admit(context, Operation::kGetStream);
  if (!principal.ok()) {
    CountRequest("GetStream", principal.status());
    reactor->Finish(ToGrpcStatus(principal.status(), context));
    return reactor;
  }
  const bool queued = readers_.Schedule(
      [this, context, request, response, reactor,
       principal = *std::move(principal)] {
        if (context->IsCancelled()) {  // no read for a call that is over
          reactor->Finish(grpc::Status::CANCELLED);
          return;
        }
        absl::StatusOr<eventlog::StreamInfo> info =
            core_.GetStream(principal, request->stream());
        if (info.ok()) ToProto(*info, response);
        CountRequest("GetStream", info.status());
        reactor->Finish(ToGrpcStatus(info.status(), context));
      });
  if (!queued) {
    CountRequest("GetStream", ReadersBusy());
    reactor->Finish(ToGrpcStatus(ReadersBusy(), context));
  }
  return reactor;
}

grpc::ServerUnaryReactor* EventStoreService::ReadUnary(
    grpc::CallbackServerContext* context, std::string_view method,
    Operation operation, std::function<absl::Status(const Principal&)> query) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Principal> principal = Admit(context, operation);
  absl::Status refused = principal.status();
  if (refused.ok() && !core_.has_state_queries()) {
    refused = absl::UnimplementedError("this server runs without time travel");
  }
  if (!refused.ok()) {
    CountRequest(method, refused);
    reactor->Finish(ToGrpcStatus(refused, context));
    return reactor;
  }
  const bool queued = readers_.Schedule(
      [this, context, reactor, method, query = std::move(query),
       principal = *std::move(principal)] {
        if (context->IsCancelled()) {  // no read for a call that is over
          reactor->Finish(grpc::Status::CANCELLED);
          return;
        }
        const absl::Status status = query(principal);
        CountRequest(method, status);
        reactor->Finish(ToGrpcStatus(status, context));
      });
  if (!queued) {
    CountRequest(method, ReadersBusy());
    reactor->Finish(ToGrpcStatus(ReadersBusy(), context));
  }
  return reactor;
}

namespace {

LogPoint FromProto(const vigil::v1::LogPoint& point) {
  LogPoint out;
  if (point.point_case() == vigil::v1::LogPoint::kPosition) {
    out.position = point.position();
  } else if (point.point_case() == vigil::v1::LogPoint::kTimeUs) {
    out.time_us = point.time_us();
  }
  return out;
}

}  // namespace

grpc::ServerUnaryReactor* EventStoreService::StateAt(
    grpc::CallbackServerContext* context,
    const vigil::v1::StateAtRequest* request,
    vigil::v1::StateAtResponse* response) {
  return ReadUnary(context, "StateAt", Operation::kState,
                   [this, request, response](const Principal& principal) {
    if (!request->agent_id().empty() && !request->task_id().empty()) {
      return absl::InvalidArgumentError("give one of agent_id and task_id");
    }
    absl::StatusOr<std::string> json = core_.State(
        principal,
        {.at = FromProto(request->at()),
         .agent_id = request->agent_id(),
         .task_id = request->task_id(),
         .task_limit = request->task_limit(),
         .trace_id = request->trace_id()});
    if (!json.ok()) return json.status();
    response->set_json(*std::move(json));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* EventStoreService::Diff(
    grpc::CallbackServerContext* context, const vigil::v1::DiffRequest* request,
    vigil::v1::DiffResponse* response) {
  return ReadUnary(context, "Diff", Operation::kDiff,
                   [this, request, response](const Principal& principal) {
    absl::StatusOr<std::string> json = core_.Diff(
        principal, {.from = FromProto(request->from()), .to = FromProto(request->to())});
    if (!json.ok()) return json.status();
    response->set_json(*std::move(json));
    return absl::OkStatus();
  });
}

size_t EventStoreService::active_reads() const { return active_reads_.load(); }

void EventStoreService::CountRequest(std::string_view method,
                                     const absl::Status& status) const {
  calls_.Finished(method, status);
}

void EventStoreService::CountStarted(std::string_view method) const {
  calls_.Started(method);
}

absl::StatusOr<Principal> EventStoreService::Admit(
    grpc::CallbackServerContext* context, Operation operation) const {
  return AdmitCall(*context, authenticator_, operation);
}

}  // namespace vigil::api
