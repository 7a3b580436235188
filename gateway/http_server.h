// HttpServer: Vigil's HTTP/1.1 server on port 7601 (docs/contract.md "HTTP"):
// the REST mirror of the gRPC API (`POST /v1/streams/{stream}/events`,
// `GET /v1/streams/{stream}`, `GET /v1/all`) and the operations endpoints
// (`/healthz`, `/readyz`, `/metrics`), and the dashboard's files at `/`.
// Plain HTTP with keep-alive; every
// error body is `application/problem+json`.
//
// Built on Boost.Beast the way its chat-multi example is: a listener, one
// session per connection, one io_context run by `io_threads` threads, and a
// strand per connection. A connection has at most one request in flight;
// pipelined requests are answered in order. Appends go to
// EventLog::AppendAsync and reads to a bounded pool of reader threads, so no
// network thread ever waits for RocksDB. Beast stays inside http_server.cc
// (one translation unit); this header does not include it.
//
// Thread safety: Start and Stop may be called from any thread, but not
// concurrently with each other or with the destructor.

#ifndef VIGIL_GATEWAY_HTTP_SERVER_H_
#define VIGIL_GATEWAY_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/append_path.h"
#include "api/auth.h"
#include "api/rate_limiter.h"
#include "api/read_models.h"
#include "api/state_queries.h"
#include "api/alert_admin.h"
#include "api/webhook_admin.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "otlp/trace_ingest.h"

namespace vigil::gateway {

// The registry is api's: gRPC and HTTP count into the same one.
using base::AppendMetrics;
using base::Counter;
using base::CounterFamily;
using base::Gauge;
using base::HistogramFamily;
using base::LatencyBuckets;
using base::Metrics;

// GET /v1/live (WebSocket) and GET /v1/live/sse: the live feed
// (docs/contract.md "HTTP", docs/live-feed.md). Every bound is here with its
// default.
struct LiveOptions {
  // Origins allowed to open the WebSocket, compared as exact strings
  // ("https://dash.example.com"; no wildcards, no prefix or suffix match).
  // Empty: the server's own origins, http://127.0.0.1:PORT,
  // http://localhost:PORT and http://[::1]:PORT (PORT the bound port), plus
  // http://HOST:PORT for a listen host that is not a wildcard address. A
  // request without an Origin header (not a browser) is not checked.
  std::vector<std::string> allowed_origins;

  // Live connections open at once, and per token (anonymous callers are
  // not capped per token). Past them the upgrade is answered 503 / 429.
  size_t max_connections = 10000;
  size_t max_connections_per_token = 256;

  // A connection's queue of frames waiting to be written: frames and
  // bytes (frames of live events are shared between connections, so the
  // bytes bound is what the connection pins, not what it copies). A
  // connection whose queue is full stops taking live events and reads the
  // log from its own position when the queue has drained to half, then
  // rejoins the live feed.
  size_t max_queue_frames = 1024;
  size_t max_queue_bytes = 8 << 20;  // 8 MiB

  // Events per log read, and positions examined per read when a filter
  // skips events.
  size_t page_events = 256;
  size_t page_scan = 4096;

  // While a filter skips events, a checkpoint frame at least this often.
  absl::Duration checkpoint_interval = absl::Seconds(1);

  // No frame received from the client for this long: the connection is
  // closed; the server pings after half of it (the client's pong counts).
  absl::Duration idle_timeout = absl::Seconds(60);
  // One frame being written for this long (the client stopped reading):
  // close 4008 "slow consumer".
  absl::Duration slow_consumer_timeout = absl::Seconds(15);
  // A close handshake (ours or the client's) not done after this long:
  // the TCP connection is dropped.
  absl::Duration close_timeout = absl::Seconds(5);
  // The WebSocket opening handshake.
  absl::Duration handshake_timeout = absl::Seconds(10);

  // The largest message a client may send (over it: close 1009), and how
  // many per minute (over it: close 1008).
  size_t max_message_bytes = 64 << 10;  // 64 KiB
  int max_messages_per_minute = 100;

  // The kernel's send buffer of a live connection (SO_SNDBUF), so 10,000
  // connections cannot pin 4 MiB each in the kernel (Linux autotunes up to
  // tcp_wmem's maximum); a client that stops reading is also noticed
  // sooner. 0: the kernel's autotuning.
  size_t send_buffer_bytes = 256 << 10;  // 256 KiB

  // Threads reading the log for connections that are catching up, and
  // reads waiting for them.
  int reader_threads = 2;
  size_t max_queued_reads = 10000;
};

struct HttpServerOptions {
  // "host:port" to listen on ("[::1]:7601" for IPv6). Port 0 picks a free
  // port (see HttpServer::port()). Without tokens only loopback addresses
  // are accepted (docs/contract.md "Security").
  std::string listen = "127.0.0.1:7601";

  // Bearer tokens and roles for the API routes (/v1/...), and the
  // per-token append rate; both must outlive the server. Null (or an
  // authenticator in anonymous mode): anonymous, loopback only, no rate
  // limit. /healthz, /readyz and /metrics need no token, for orchestrators
  // and scrapers.
  const api::Authenticator* authenticator = nullptr;
  api::RateLimiter* rate_limiter = nullptr;

  // The append path POST /v1/streams/{stream}/events goes through, shared
  // with the server's other transports (gRPC), so its checks, rate limit
  // and in-flight bound are theirs too; must outlive the server. Null: the
  // server makes its own over its log, with `rate_limiter`,
  // `max_inflight_appends` and its metrics (which are otherwise unused).
  api::AppendPath* append_path = nullptr;

  // The read models (GET /v1/agents, /v1/tasks, ... /v1/projections);
  // must outlive the server. Null: those paths are 404. The paths and
  // their query strings: gateway/internal/read_model_routes.h.
  api::ReadModels* read_models = nullptr;

  // The dashboard's built files (gateway/dashboard/dist), read once at
  // start and served at `/` and `/assets/...` without a token (they hold
  // no data; the page asks for a token itself). Empty, or a directory
  // without index.html: those paths answer 404 saying why.
  std::string dashboard_dir;

  // Webhook administration (/v1/webhooks, see
  // gateway/internal/webhook_routes.h), role "admin"; must outlive the
  // server. Null: those paths are 404.
  api::WebhookAdmin* webhooks = nullptr;

  // Alert administration (/v1/alert-rules, /v1/alerts, see
  // gateway/internal/alert_routes.h), role "admin"; must outlive the
  // server. Null: those paths are 404.
  api::AlertAdmin* alerts = nullptr;

  // OTLP/HTTP trace ingest, POST /v1/traces (docs/otlp.md,
  // gateway/internal/otlp_route.h), role "agent" or "admin" as for appends;
  // must outlive the server. Null: that path is 404.
  otlp::TraceIngest* traces = nullptr;
  // The largest body of POST /v1/traces, compressed or inflated (it
  // replaces max_body_bytes for that path). Over it: 413.
  size_t otlp_max_body_bytes = 16 << 20;  // 16 MiB

  // Time travel (GET /v1/state, GET /v1/diff); must outlive the server.
  // Null: those paths are 404.
  api::StateQueries* state_queries = nullptr;

  // GET /v1/replication (role reader, like the read models): the log's
  // mirror to NATS JetStream (docs/replication.md "Status"), as the JSON
  // object this returns. Must be quick and callable from any thread. Null:
  // that path is 404.
  std::function<std::string()> replication_status;

  // What /readyz answers besides shutting down and the log's WriteHealth()
  // (a full disk): OK for 200, anything else for 503 with its message (a
  // gateway replica not subscribed to its primary); the live feed refuses
  // new connections meanwhile too. Null: ready. Must be quick and callable
  // from any thread.
  std::function<absl::Status()> readiness;

  // Threads running the io_context (network I/O, parsing, JSON).
  int io_threads = 2;

  // Open connections. Past it a new connection is accepted, answered 503
  // with Retry-After and closed.
  size_t max_connections = 1024;

  // Request line plus headers. Over it: 431, connection closed.
  size_t max_header_bytes = 16 << 10;  // 16 KiB

  // Request body. An append carries at most 4 MiB of data + metadata (the
  // log's limit, answered 413 by the log); the body may be larger than
  // what it stores: JSON punctuation and field names, and base64 (4/3) for
  // `data_base64`. Over it: 413, connection closed.
  size_t max_body_bytes = 6 << 20;  // 6 MiB

  // Waiting for a request and reading its header (also the keep-alive idle
  // time between requests). Past it the connection is closed.
  absl::Duration idle_timeout = absl::Seconds(30);
  // Reading a request's body once its header has arrived.
  absl::Duration read_timeout = absl::Seconds(30);
  // Writing a response (a client that stops reading).
  absl::Duration write_timeout = absl::Seconds(30);

  // Appends submitted to the log and not yet answered, when the server
  // makes its own append path (see append_path;
  // api::AppendPathOptions::max_inflight_appends, with the same default).
  // Past it: 429 with Retry-After: 1.
  size_t max_inflight_appends = api::AppendPathOptions{}.max_inflight_appends;

  // Threads doing the reads of GET requests (RocksDB, and the read models:
  // PostgreSQL queries and min_position waits of up to a few seconds, so
  // most of them are usually waiting, not working), and reads waiting for
  // them. Queue full: 503 with Retry-After: 1.
  int read_threads = 8;
  size_t max_queued_reads = 256;

  // `limit` of GET /v1/streams/{stream} and /v1/all: its default and the
  // largest accepted (larger: 400).
  uint64_t default_read_limit = 100;
  uint64_t max_read_limit = 1000;

  // How long Stop() waits for in-flight requests before closing their
  // connections anyway.
  absl::Duration shutdown_timeout = absl::Seconds(10);

  LiveOptions live;
};

class HttpServer {
 public:
  // Binds `options.listen` and starts serving. `log` and `metrics` must
  // outlive the server. INVALID_ARGUMENT for a malformed or non-loopback
  // address or bad options; UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, eventlog::EventLog* log, Metrics* metrics);

  // Stop()s.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port bound (useful with port 0).
  uint16_t port() const;

  // Makes /readyz answer 503 while everything else is still served, so a
  // load balancer can take the server out of rotation before Stop().
  void BeginShutdown();

  // Stops accepting, closes idle connections, lets in-flight requests
  // finish (up to shutdown_timeout) and answers them with
  // `Connection: close`, then stops the threads. Idempotent.
  void Stop();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::gateway

#endif  // VIGIL_GATEWAY_HTTP_SERVER_H_
