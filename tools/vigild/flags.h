// vigild's settings: the Config the server runs with, the flags and
// environment variables that set it (the flag wins), `vigild --help`, and
// the checks a Config must pass before the server starts. The table in
// flags.cc (Settings()) is the one place that names every setting, parses
// it and prints it, with its default, in --help.
//
// Threads: main's thread, before the server starts; nothing here keeps
// state but the settings table, built once and read-only after.

#ifndef VIGIL_TOOLS_VIGILD_FLAGS_H_
#define VIGIL_TOOLS_VIGILD_FLAGS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/event_store_service.h"
#include "eventlog/options.h"
#include "gateway/http_server.h"
#include "projections/state_at.h"
#include "projections/webhooks/retry_policy.h"
#include "replication/mirror.h"

namespace vigil::vigild {

// Everything vigild can be told. Defaults are the member initializers,
// which take the library defaults (eventlog::Options, ServiceOptions).
struct Config {
  std::string data_dir = "./data";
  std::string grpc_listen = "127.0.0.1:7600";
  std::string http_listen = "127.0.0.1:7601";
  std::string tokens_file;  // empty: anonymous, loopback only
  uint64_t append_rate = 50000;   // events/s per token
  uint64_t append_burst = 100000;
  eventlog::Options log;
  api::ServiceOptions service;
  uint64_t shutdown_grace_ms = 5000;
  // Read models: empty pg_url runs the embedded cluster in data_dir.
  std::string pg_url;
  // Where read routes query; empty: pg_url.
  std::string pg_read_url;
  std::string projections = "on";
  // Time travel: positions between snapshots of the folds.
  uint64_t snapshot_interval =
      projections::TimeTravelOptions{}.snapshot_interval;
  int metrics_retention_days = 30;
  uint64_t min_position_wait_ms = 5000;
  // The dashboard's built files; the build's gateway/dashboard/dist
  // (VIGIL_DEFAULT_DASHBOARD_DIR, defined for vigild by tools/CMakeLists.txt).
  std::string dashboard_dir = VIGIL_DEFAULT_DASHBOARD_DIR;
  // Webhooks: state in DATA_DIR/webhooks. "on" (the leader delivers),
  // "off", "here" (delivered here, leader or standby: leader_log.h),
  // "elsewhere" (not here; admin appends to $webhooks are taken).
  std::string webhooks = "on";
  bool webhooks_allow_private = false;
  webhooks::RetryPolicy webhook_retry;
  uint64_t webhook_timeout_ms = 15000;
  uint64_t webhook_checkpoint_every_ms = 1000;
  uint64_t webhook_secret_grace_s = 24 * 3600;
  size_t webhook_max_endpoints = 100;
  size_t webhook_max_dead_letters = 10000;
  bool webhook_verify_tls = true;
  std::string webhook_ca_file;
  // Alert rules (docs/alerts.md): rules in `$alert-rules`, alerts in
  // `$alerts`.
  std::string alerts = "on";
  size_t alert_max_rules = 100;
  size_t alert_max_subjects = 10000;
  size_t alert_snapshot_every = 10000;
  // OTLP ingest (docs/otlp.md): the largest export body, and a price file
  // replacing the built-in table (empty: the built-in one).
  size_t otlp_max_body_bytes = gateway::HttpServerOptions{}.otlp_max_body_bytes;
  std::string otlp_prices_file;
  // Comma-separated; empty: the HTTP server's own origins.
  std::string allowed_origins;
  gateway::LiveOptions live;
  // Replication to NATS JetStream (docs/replication.md): "off", "async"
  // (appends answered once durable locally; the mirror follows) or "sync"
  // (answered once also stored by a JetStream quorum, within
  // replication_timeout_ms). `mirror` holds the NATS URL, stream, subject
  // prefix, replicas and bounds; its metrics are set by main.
  std::string replication = "off";
  replication::MirrorOptions mirror;
  uint64_t replication_timeout_ms = absl::ToInt64Milliseconds(
      replication::MirrorOptions{}.store_timeout);
  // A standby (docs/replication.md "A standby"): the log is built from the
  // JetStream stream (mirror.stream at mirror.nats_url) and appends are
  // refused, naming the primary's gRPC address and HTTP URL (either may be
  // empty: unknown). `replication` is the mode it would mirror in as a
  // primary.
  bool standby = false;
  std::string primary_grpc;  // HOST:PORT
  std::string primary_url;   // http://HOST:PORT
  // Leadership through an etcd lease (docs/replication.md "Leadership and
  // failover"): empty etcd_endpoints: none. The key defaults to
  // /vigil/<stream>/leader.
  std::string etcd_endpoints;
  std::string leader_key;
  uint64_t leader_ttl_s = 5;
  uint64_t leader_margin_ms = 1000;
  // A gateway replica: no log, PostgreSQL or gRPC server of its own.
  bool gateway_only = false;
  std::string upstream;             // the primary's gRPC HOST:PORT
  std::string upstream_token_file;  // empty: $VIGIL_UPSTREAM_TOKEN
};

// `vigild --help`: usage, one row per setting with its variable and
// default, and the exit codes.
std::string Help();

// Flags over environment variables over defaults. INVALID_ARGUMENT (the
// message names the flag or variable) for an unknown flag or a bad value.
absl::StatusOr<Config> LoadConfig(const std::vector<std::string_view>& args);

// The host and port of a gRPC listen address "HOST:PORT" or "[V6]:PORT".
struct HostPort {
  std::string host;  // without brackets
  std::string port;
};

// Where a checked Config listens.
struct ListenAddresses {
  HostPort grpc;
  HostPort http;
};

// Checks what LoadConfig cannot check one setting at a time: listen
// addresses, on|off values, --gateway-only with --upstream or --nats-url, --replication
// with --nats-url, --standby with --replication and --nats-url (and a usable stream and subject prefix), and that
// without --tokens-file the server listens on loopback only. The error's
// message is what vigild prints before its usage hint.
absl::StatusOr<ListenAddresses> CheckConfig(const Config& config);

}  // namespace vigil::vigild

#endif  // VIGIL_TOOLS_VIGILD_FLAGS_H_
