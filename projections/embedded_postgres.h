// EmbeddedPostgres: the private PostgreSQL 15 cluster that vigild runs for its
// read models when it is given no --pg-url.
//
// Layout under options.cluster_dir (vigild passes <data-dir>/postgres):
//   data/                 the data directory (initdb on the first Start)
//   .s.PGSQL.5432         the server's Unix socket; there is no TCP listener
//   server.log            the server's log
//   initdb.log, pg_ctl.log  output of the last initdb / pg_ctl run
// cluster_dir is mode 0700: local connections are trusted without a password,
// so only its owner (and root) may reach the socket.
//
// As root, initdb, pg_ctl and the server run as the `postgres` user (initdb
// refuses root) and cluster_dir is chowned to it; every parent of cluster_dir
// must then be traversable by `postgres`.
//
// The server outlives its owner: pg_ctl detaches it into its own session, so
// when vigild is killed (kill -9) the server keeps running, and the next Start
// on the same cluster_dir adopts it. A postmaster.pid left by a server that
// died is removed, and the server is started again (with crash recovery).

#ifndef VIGIL_PROJECTIONS_EMBEDDED_POSTGRES_H_
#define VIGIL_PROJECTIONS_EMBEDDED_POSTGRES_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil::projections {

struct EmbeddedPostgresOptions {
  // Directory of the cluster, created when missing. Made absolute. The socket
  // path <cluster_dir>/.s.PGSQL.5432 must fit sockaddr_un (at most 107
  // bytes), so cluster_dir may be at most 93 bytes long; Start fails with
  // INVALID_ARGUMENT otherwise. Required.
  std::string cluster_dir;

  // Where initdb, pg_ctl and postgres are.
  std::string bin_dir = "/usr/lib/postgresql/15/bin";

  // The database that url() names; created on the first Start.
  std::string database = "vigil";

  // How long Start waits for the server to accept connections (this includes
  // crash recovery after the server itself was killed), and Stop for it to
  // shut down.
  absl::Duration start_timeout = absl::Seconds(60);
};

// One running cluster. Start, Stop and Detach are called from one thread at a
// time; url() may be read from any thread.
class EmbeddedPostgres {
 public:
  // Initializes the cluster on its first start, starts the server (or adopts
  // one already running on cluster_dir), waits until it accepts connections
  // and creates options.database when missing.
  // Errors: INVALID_ARGUMENT for bad options (socket path too long);
  // NOT_FOUND when bin_dir lacks initdb or pg_ctl; FAILED_PRECONDITION when
  // running as root and the `postgres` user is missing or cannot traverse a
  // parent of cluster_dir; INTERNAL when initdb or pg_ctl fails (with the
  // tail of its log); DEADLINE_EXCEEDED when the server does not accept
  // connections within start_timeout.
  static absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> Start(
      const EmbeddedPostgresOptions& options);

  // Stops the server unless Stop or Detach was called before.
  ~EmbeddedPostgres();

  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // A libpq URI of the database over the Unix socket, which libpqxx accepts:
  // postgresql://postgres@/vigil?host=/abs/cluster_dir&port=5432
  // (database and directory percent-encoded where needed).
  const std::string& url() const { return url_; }

  // True when Start found the server already running and adopted it.
  bool adopted() const { return adopted_; }

  // Shuts the server down (pg_ctl stop -m fast) and waits for it, also when
  // it was adopted. Does nothing after Stop or Detach. INTERNAL (with the tail of pg_ctl's output) when
  // pg_ctl fails.
  absl::Status Stop();

  // Leaves the server running when this object is destroyed, as happens when
  // vigild is killed; the next Start on the same cluster_dir adopts it.
  void Detach() { running_ = false; }

 private:
  EmbeddedPostgres(EmbeddedPostgresOptions options, std::string url,
                   bool adopted);

  const EmbeddedPostgresOptions options_;  // cluster_dir is absolute
  const std::string url_;
  const bool adopted_;
  bool running_ = true;
};

// Connects to `url` until it succeeds or `timeout` passes (then
// DEADLINE_EXCEEDED with the last connection error).
absl::Status WaitForConnectable(const std::string& url, absl::Duration timeout);

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_EMBEDDED_POSTGRES_H_
