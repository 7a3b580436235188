// AppendSessions (append_session.h): one reactor per session, its state
// under one mutex. gRPC may run a reaction inline inside StartRead,
// StartWrite or Finish, so none is called under the mutex: each event
// decides under the lock what to start (Step), then starts it after
// releasing the lock, holding the session alive meanwhile.

#include "api/append_session.h"

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "api/event_proto.h"
#include "api/grpc_status.h"
#include "api/status_mapping.h"

namespace vigil::api {

class AppendSessions::Session final : public AppendSessions::Reactor {
 public:
  Session(AppendSessions* owner, Principal principal, OnFinish on_finish)
      : owner_(owner),
        principal_(std::move(principal)),
        on_finish_(std::move(on_finish)) {}

  // Reads the first request, or ends at once when the server is stopping.
  void Begin(bool stopping) {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { stopping_ = stopping; });
  }

  // Keeps the session alive across a call from outside gRPC's reactions.
  void Hold() {
    absl::MutexLock lock(&mu_);
    ++holds_;
  }
  void Release() {
    bool release;
    {
      absl::MutexLock lock(&mu_);
      release = --holds_ == 0 && done_;
    }
    if (release) delete this;
  }

  void Stop() {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { stopping_ = true; });
  }

  void OnReadDone(bool ok) override {
    std::optional<absl::StatusOr<eventlog::AppendRequest>> append;
    uint64_t correlation_id = 0;
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      reading_ = false;
      // The client half-closed, or the call is over: a request that comes
      // after the end is not appended, as no answer could reach its sender.
      if (!ok || finished_) {
        read_closed_ = true;
        return;
      }
      ++inflight_;
      correlation_id = request_.correlation_id();
      append = FromProto(request_.append());
      if (!append->ok()) {
        AnswerLocked(correlation_id, append->status());
        append.reset();
      } else {
        ++holds_;  // released by the append's answer
      }
    });
    if (!append.has_value()) return;
    // `done` may run here, inline, when the append is refused at once.
    owner_->core_->Append(
        principal_, **std::move(append),
        [this, correlation_id](absl::StatusOr<eventlog::AppendResult> result) {
          Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            --holds_;  // Step holds the session until it returns
            AnswerLocked(correlation_id, result);
          });
        });
  }

  void OnWriteDone(bool ok) override {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      writing_ = false;
      --inflight_;
      if (!ok) broken_ = true;  // the client is gone
    });
  }

  void OnCancel() override {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { broken_ = true; });
  }

  void OnDone() override {
    owner_->Remove(this);  // before done_: Stop() holds only listed sessions
    bool release;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      release = holds_ == 0;
    }
    if (release) delete this;
  }

 private:
  // What to start once mu_ is released.
  struct Actions {
    bool write = false;
    bool more_queued = false;  // answers wait behind the one written
    bool read = false;
    std::optional<absl::Status> finish;
  };

  // Runs `decide` under mu_, settles what follows from the new state, and
  // starts it after releasing the lock.
  template <typename Decide>
  void Step(Decide decide) {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      decide();
      actions = NextLocked();
      ++holds_;
    }
    if (actions.write) {
      // More answers queued behind this one: let gRPC coalesce them into
      // one send; the last of them goes without the hint and flushes.
      StartWrite(&writing_response_,
                 actions.more_queued ? grpc::WriteOptions().set_buffer_hint()
                                     : grpc::WriteOptions());
    }
    if (actions.read) StartRead(&request_);
    if (actions.finish.has_value()) {
      on_finish_(*actions.finish);
      Finish(ToGrpcStatus(*actions.finish, nullptr));
    }
    Release();
  }

  Actions NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Actions actions;
    if (finished_) return actions;
    if (!broken_ && !writing_ && !answers_.empty()) {
      writing_response_ = std::move(answers_.front());
      answers_.pop_front();
      writing_ = true;
      actions.write = true;
      actions.more_queued = !answers_.empty();
    }
    // Answers in flight are written before the end; a broken call has no
    // one to write them to.
    const bool drained = inflight_ == 0 && !writing_;
    std::optional<absl::Status> end;
    if (broken_) {
      if (!writing_) end = absl::CancelledError("the session was cancelled");
    } else if (stopping_) {
      if (drained) {
        end = absl::UnavailableError(
            "the server is shutting down; every append answered before this "
            "is durable, resend the others with their idempotency keys");
      }
    } else if (read_closed_) {
      if (drained) end = absl::OkStatus();
    }
    if (end.has_value()) {
      finished_ = true;
      actions.finish = std::move(end);
      return actions;
    }
    if (!reading_ && !read_closed_ && !stopping_ && !broken_ &&
        inflight_ < owner_->options_.max_inflight) {
      reading_ = true;
      actions.read = true;
    }
    return actions;
  }

  // Queues the answer to the append `correlation_id`, unless no one can
  // receive it any more.
  void AnswerLocked(uint64_t correlation_id,
                    const absl::StatusOr<eventlog::AppendResult>& result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || broken_) {
      --inflight_;
      return;
    }
    vigil::v1::AppendSessionResponse& answer = answers_.emplace_back();
    answer.set_correlation_id(correlation_id);
    if (result.ok()) {
      ToProto(*result, answer.mutable_ok());
      return;
    }
    vigil::v1::AppendError* error = answer.mutable_error();
    error->set_code(static_cast<int>(result.status().code()));
    error->set_message(std::string(result.status().message()));
    if (std::optional<std::string> revision = ActualRevision(result.status())) {
      error->set_actual_revision(*std::move(revision));
    }
  }

  AppendSessions* const owner_;
  const Principal principal_;
  const OnFinish on_finish_;

  absl::Mutex mu_;
  // Owned by the read in flight (reading_), then parsed under mu_.
  vigil::v1::AppendSessionRequest request_;
  // Owned by the write in flight (writing_).
  vigil::v1::AppendSessionResponse writing_response_;
  std::deque<vigil::v1::AppendSessionResponse> answers_ ABSL_GUARDED_BY(mu_);
  // Requests read whose answer is not yet written: queued in answers_, in
  // writing_response_, or waiting for the log. At most max_inflight.
  size_t inflight_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Appends waiting for the log, Steps in progress and Stop()'s hold: the
  // session is deleted once gRPC is done with it and none remains.
  int holds_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

AppendSessions::AppendSessions(const Core* core, AppendSessionOptions options)
    : core_(core), options_(options) {}

AppendSessions::~AppendSessions() = default;

AppendSessions::Reactor* AppendSessions::Start(Principal principal,
                                               OnFinish on_finish) {
  auto* session = new Session(this, std::move(principal), std::move(on_finish));
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    sessions_.insert(session);
    stopping = stopping_;
  }
  session->Begin(stopping);
  return session;
}

void AppendSessions::Stop() {
  std::vector<Session*> sessions;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (Session* session : sessions_) {
      session->Hold();
      sessions.push_back(session);
    }
  }
  for (Session* session : sessions) {
    session->Stop();
    session->Release();
  }
}

size_t AppendSessions::active() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

void AppendSessions::Remove(Session* session) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(session);
}

}  // namespace vigil::api
