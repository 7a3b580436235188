#include "tools/vigild/role.h"

#include <cstdio>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/status_mapping.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "replication/standby.h"

namespace vigil::vigild {
namespace {

// Where each leader records itself as its first event (docs/replication.md
// "Leadership and failover").
constexpr char kLeadershipStream[] = "$leadership";

// How long a standby about to be promoted waits to have applied the whole
// stream; past it, it does not take the leadership (and tries again).
constexpr absl::Duration kCatchUpBound = absl::Seconds(30);
// One attempt of a new leader to claim the stream's next position
// (replication::Standby::Claim); it tries again while it holds the key.
constexpr absl::Duration kClaimAttempt = absl::Seconds(5);

void Log(std::string_view line) {
  std::fprintf(stderr, "vigild: %.*s\n", static_cast<int>(line.size()),
               line.data());
  std::fflush(stderr);
}

// "grpc=HOST:PORT http=URL", the leader key's value.
std::string HolderValue(const std::string& grpc, const std::string& http_url) {
  return absl::StrCat("grpc=", grpc, " http=", http_url);
}

// Field `name` ("grpc", "http") of a HolderValue, or empty.
std::string FieldOf(const std::string& holder, const char* name) {
  const std::string prefix = absl::StrCat(name, "=");
  const size_t at = holder.find(prefix);
  if (at == std::string::npos) return "";
  const size_t from = at + prefix.size();
  const size_t end = holder.find(' ', from);
  return holder.substr(from, end == std::string::npos ? end : end - from);
}

// The HTTP URL in a HolderValue, or empty.
std::string HttpOf(const std::string& holder) { return FieldOf(holder, "http"); }

}  // namespace

class Role::Impl {
 public:
  Impl(RoleOptions options, eventlog::EventLog* log)
      : options_(std::move(options)), log_(log) {
    if (!options_.primary_grpc.empty() || !options_.primary_url.empty()) {
      known_primary_ = absl::StrCat(
          "grpc=",
          options_.primary_grpc.empty() ? "unknown" : options_.primary_grpc,
          " http=", options_.primary_url);
    }
  }

  ~Impl() { Stop(); }

  // Before Begin: the standby follows; a primary without etcd mirrors
  // (before its first append can arrive).
  absl::Status StartEarly() {
    if (options_.standby) return StartStandby();
    if (!options_.leadership.has_value()) return StartMirror(nullptr);
    return absl::OkStatus();
  }

  absl::Status StartStandby() {
    ASSIGN_OR_RETURN(standby_, replication::Standby::Start(
                                   {.nats_url = options_.mirror.nats_url,
                                    .stream = options_.mirror.stream,
                                    .subject_prefix =
                                        options_.mirror.subject_prefix,
                                    .metrics = options_.metrics},
                                   log_));
    return absl::OkStatus();
  }

  absl::Status Begin(const std::string& grpc, const std::string& http_url) {
    if (!options_.leadership.has_value()) return absl::OkStatus();
    options_.leadership->holder = HolderValue(grpc, http_url);
    if (options_.standby) {
      promoter_ = std::thread([this] { Promote(); });
      return absl::OkStatus();
    }
    absl::StatusOr<std::unique_ptr<replication::Leadership>> acquired =
        replication::Leadership::Acquire(*options_.leadership,
                                         [this] { OnLost(); });
    if (absl::IsAlreadyExists(acquired.status())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another vigild is the primary: ", acquired.status().message(),
          "; start this one with --standby, or wait until its lease "
          "expires"));
    }
    RETURN_IF_ERROR(acquired.status());
    Log(absl::StrCat("leader of ", options_.leadership->key,
                     " (fencing token ", (*acquired)->fencing_token(), ")"));
    // The mirror before the first append, so a sync append waits for it.
    RETURN_IF_ERROR(StartMirror(acquired->get()));
    const int64_t token = (*acquired)->fencing_token();
    {
      absl::MutexLock lock(&mu_);
      leadership_ = *std::move(acquired);
    }
    RecordLeader(token);
    return absl::OkStatus();
  }

  absl::Status Writable() const {
    absl::ReaderMutexLock lock(&mu_);
    if (promoted_ || !options_.standby) {
      if (stopped_) return absl::UnavailableError("the server is stopping");
      if (options_.leadership.has_value()) {
        if (leadership_ == nullptr) {
          return api::NotPrimaryError(
              "this vigild does not hold the leadership yet", "");
        }
        if (absl::Status held = leadership_->Held(); !held.ok()) {
          return api::NotPrimaryError(
              absl::StrCat(held.message(), "; appends are refused here"), "");
        }
      }
      return absl::OkStatus();
    }
    const std::string& primary = known_primary_;
    return api::NotPrimaryError(
        absl::StrCat("this vigild is a standby and does not append: send "
                     "appends to the primary (",
                     primary.empty() ? "unknown" : primary, ")"),
        HttpOf(primary));
  }

  absl::Status AwaitCaughtUp(absl::Time deadline) {
    if (!options_.standby) return absl::OkStatus();
    return standby_->AwaitCaughtUp(deadline).status();
  }

  absl::StatusOr<std::string> AppendTarget() const {
    absl::Status writable = Writable();
    if (writable.ok()) return std::string();
    absl::ReaderMutexLock lock(&mu_);
    if (options_.standby && !promoted_) {
      const std::string grpc = FieldOf(known_primary_, "grpc");
      if (!grpc.empty() && grpc != "unknown") return grpc;
    }
    return writable;
  }

  void AwaitReplicated(uint64_t position,
                       std::function<void(absl::Status)> stored) const {
    replication::Mirror* mirror = nullptr;
    {
      absl::ReaderMutexLock lock(&mu_);
      mirror = mirror_.get();
    }
    if (mirror == nullptr) {
      return stored(absl::UnavailableError(absl::StrCat(
          "position ", position, " is durable locally but no mirror runs")));
    }
    mirror->AwaitStored(position, std::move(stored));
  }

  std::string StatusJson() const {
    absl::ReaderMutexLock lock(&mu_);
    base::Json extra = {
        {"role", promoted_ || !options_.standby ? "primary" : "standby"}};
    if (leadership_ != nullptr) {
      extra["fencing_token"] = leadership_->fencing_token();
      extra["leader"] = leadership_->Held().ok();
    }
    if (mirror_ != nullptr) return mirror_->StatusJson(options_.mode, extra);
    if (standby_ != nullptr) return standby_->StatusJson(extra);
    base::Json off = {{"mode", "off"}};
    off.update(extra);
    return base::DumpJson(off);
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    // The standby first: a promotion waiting for it to catch up gives up.
    if (standby_ != nullptr) standby_->Stop();
    if (promoter_.joinable()) promoter_.join();
    // The mirror first, so nothing is published once the lease is given
    // up.
    if (mirror_ != nullptr) mirror_->Stop();
    if (leadership_ != nullptr) leadership_->Resign();
  }

 private:
  bool Stopped() const {
    absl::ReaderMutexLock lock(&mu_);
    return stopped_;
  }

  // With etcd, `leadership` is the lease the mirror publishes under.
  absl::Status StartMirror(const replication::Leadership* leadership) {
    if (options_.mode == "off") return absl::OkStatus();
    replication::MirrorOptions mirror_options = options_.mirror;
    if (leadership != nullptr) {
      mirror_options.may_publish = [leadership] {
        return leadership->Held().ok();
      };
    }
    ASSIGN_OR_RETURN(std::unique_ptr<replication::Mirror> mirror,
                     replication::Mirror::Start(std::move(mirror_options), log_));
    absl::MutexLock lock(&mu_);
    mirror_ = std::move(mirror);
    return absl::OkStatus();
  }

  // A leader's first event, "LeaderElected" in $leadership: the log keeps
  // who led from which position. A promoted standby claims the stream's
  // next position with it (ClaimStream); a primary at start appends it
  // (RecordLeader) and its mirror publishes it at once.
  eventlog::EventData LeaderElected(int64_t token) const {
    return {.type = "LeaderElected",
            .data = base::DumpJson({{"fencing_token", token},
                                    {"key", options_.leadership->key},
                                    {"holder", options_.leadership->holder}})};
  }

  // Returns LeaderElected's position, 0 when it could not be appended.
  uint64_t RecordLeader(int64_t token) {
    eventlog::AppendRequest request{.stream = kLeadershipStream};
    request.events.push_back(LeaderElected(token));
    absl::StatusOr<eventlog::AppendResult> appended = log_->Append(request);
    if (!appended.ok()) {
      Log(absl::StrCat("could not record the leadership in ", kLeadershipStream,
                       ": ", appended.status().message()));
      return 0;
    }
    return appended->last_position;
  }

  // A new leader publishes LeaderElected to the stream before its log
  // holds it, applying first whatever a deposed primary's late publish put
  // at that position (replication::Standby::Claim): from then on the
  // stream and the log end with the same event, and any later publish of
  // the deposed primary is refused by its expected last sequence. Tries
  // while this vigild holds `leadership` and is not stopping; gives up at
  // once when the stream does not chain from the log. Returns its
  // position.
  absl::StatusOr<uint64_t> ClaimStream(
      const replication::Leadership& leadership) {
    while (true) {
      absl::StatusOr<uint64_t> claimed = standby_->Claim(
          kLeadershipStream, LeaderElected(leadership.fencing_token()),
          absl::Now() + kClaimAttempt);
      if (!absl::IsDeadlineExceeded(claimed.status())) return claimed;
      Log(absl::StrCat("standby: not promoted yet: ",
                       claimed.status().message()));
      if (Stopped()) return absl::UnavailableError("the server is stopping");
      RETURN_IF_ERROR(leadership.Held());
    }
  }

  // The lease is lost (the renewal thread): appends are refused already
  // (Held); publish nothing more either.
  void OnLost() {
    Log("lost the leader lease: appends refused and the mirror stopped "
        "from now on (restart this vigild as a --standby)");
    replication::Mirror* mirror = nullptr;
    {
      absl::ReaderMutexLock lock(&mu_);
      mirror = mirror_.get();
    }
    if (mirror != nullptr) mirror->Stop();
    if (options_.on_lost) options_.on_lost();
  }

  // The promoter thread of a standby with etcd.
  void Promote() {
    const replication::LeadershipOptions& leadership = *options_.leadership;
    std::string last_logged;
    auto note = [&last_logged](std::string line) {
      if (line != last_logged) Log(line);
      last_logged = std::move(line);
    };
    while (!Stopped()) {
      absl::StatusOr<std::optional<std::string>> holder =
          replication::Leadership::Holder(leadership);
      if (!holder.ok()) {
        note(absl::StrCat("standby: ", holder.status().message()));
      } else if (holder->has_value()) {
        absl::MutexLock lock(&mu_);
        known_primary_ = **holder;
      } else if (absl::Status promoted = TryPromotion(); promoted.ok()) {
        return;
      } else {
        note(absl::StrCat("standby: not promoted: ", promoted.message()));
      }
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopped_), options_.leader_poll);
    }
  }

  // The leader key is free: catch up with the stream, take the key, claim
  // the stream's next position (applying what came meanwhile), then
  // become the primary.
  absl::Status TryPromotion() {
    const absl::Time start = absl::Now();
    RETURN_IF_ERROR(standby_->AwaitCaughtUp(start + kCatchUpBound).status());
    ASSIGN_OR_RETURN(std::unique_ptr<replication::Leadership> leadership,
                     replication::Leadership::Acquire(*options_.leadership,
                                                      [this] { OnLost(); }));
    // Stops following. A deposed primary stops publishing before its lease
    // can expire, but what it had sent may still be on its way: what lands
    // before the claim is applied, what comes after is refused.
    absl::StatusOr<uint64_t> marker = ClaimStream(*leadership);
    if (!marker.ok()) {
      leadership->Resign();
      Log(absl::StrCat("standby: gave the leadership up: ",
                       marker.status().message()));
      return marker.status();
    }
    // The mirror before the first append, so a sync append waits for it;
    // it finds the stream ending with LeaderElected, as the log does.
    if (absl::Status mirrored = StartMirror(leadership.get()); !mirrored.ok()) {
      Log(absl::StrCat("promoted, but the mirror did not start: ",
                       mirrored.message()));
    }
    const int64_t token = leadership->fencing_token();
    {
      absl::MutexLock lock(&mu_);
      leadership_ = std::move(leadership);
      promoted_ = true;
    }
    Log(absl::StrCat("promoted to primary: leader of ", options_.leadership->key,
                     " (fencing token ", token,
                     ") with the whole stream applied and LeaderElected at "
                     "position ",
                     *marker, " after ",
                     absl::FormatDuration(absl::Now() - start)));
    if (options_.on_promoted) options_.on_promoted();
    return absl::OkStatus();
  }

  RoleOptions options_;
  eventlog::EventLog* const log_;
  std::thread promoter_;
  std::unique_ptr<replication::Standby> standby_;  // set before any thread
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool promoted_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<replication::Mirror> mirror_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<replication::Leadership> leadership_ ABSL_GUARDED_BY(mu_);
  // The primary a standby names: the leader key's value, else the flags'.
  std::string known_primary_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<Role>> Role::Start(RoleOptions options,
                                                  eventlog::EventLog* log) {
  if (options.mode != "off") {
    RETURN_IF_ERROR(replication::CheckMirrorOptions(options.mirror));
  }
  if (options.leadership.has_value()) {
    RETURN_IF_ERROR(replication::CheckLeadershipOptions(*options.leadership));
  }
  auto impl = std::make_unique<Impl>(std::move(options), log);
  RETURN_IF_ERROR(impl->StartEarly());
  return std::unique_ptr<Role>(new Role(std::move(impl)));
}

Role::Role(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Role::~Role() = default;

absl::Status Role::Begin(const std::string& grpc, const std::string& http_url) {
  return impl_->Begin(grpc, http_url);
}

absl::Status Role::Writable() const { return impl_->Writable(); }

absl::Status Role::AwaitCaughtUp(absl::Time deadline) {
  return impl_->AwaitCaughtUp(deadline);
}

absl::StatusOr<std::string> Role::AppendTarget() const {
  return impl_->AppendTarget();
}

void Role::AwaitReplicated(uint64_t position,
                           std::function<void(absl::Status)> stored) const {
  impl_->AwaitReplicated(position, std::move(stored));
}

std::string Role::StatusJson() const { return impl_->StatusJson(); }

void Role::Stop() { impl_->Stop(); }

}  // namespace vigil::vigild
