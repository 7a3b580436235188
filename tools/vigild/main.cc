// vigild: the Vigil server. Serves the gRPC EventStore (docs/contract.md
// "gRPC") over the event log in --data-dir until SIGTERM or SIGINT, then stops
// gracefully: subscriptions end (UNAVAILABLE: clients resume from the last
// position they saw), in-flight appends finish and are acknowledged, the log is
// closed.
//
// This file wires the server together from a checked Config and runs it;
// every setting, its flag, environment variable, parsing and --help row is
// in flags.h.
//
// Threads: main parses, starts the server, then waits for a signal in
// sigwait(); SIGINT and SIGTERM are blocked in every thread, so no work is
// ever done in a signal handler.

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/append_path.h"
#include "api/auth.h"
#include "api/event_store_service.h"
#include "api/rate_limiter.h"
#include "api/subscription.h"
#include "base/json.h"
#include "base/metrics.h"
#include "base/status_macros.h"
#include "eventlog/event_log.h"
#include "gateway/http_server.h"
#include "gateway/upstream_log.h"
#include "grpcpp/grpcpp.h"
#include "otlp/price_table.h"
#include "otlp/trace_ingest.h"
#include "otlp/trace_service.h"
#include "projections/embedded_postgres.h"
#include "projections/projection_service.h"
#include "projections/state_at.h"
#include "projections/state_json.h"
#include "replication/jetstream_log.h"
#include "projections/alerts/alert_service.h"
#include "projections/webhooks/webhook_service.h"
#include "tools/vigild/allocator.h"
#include "tools/vigild/file_limit.h"
#include "tools/vigild/flags.h"
#include "tools/vigild/leader_log.h"
#include "tools/vigild/leader_services.h"
#include "tools/vigild/role.h"

namespace vigil::vigild {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the log cannot be opened, no listener
constexpr int kExitUsage = 64;   // a bad flag or value, a refused address

int Usage(std::string_view message) {
  std::fprintf(stderr, "vigild: %.*s\nRun 'vigild --help' for usage.\n",
               static_cast<int>(message.size()), message.data());
  return kExitUsage;
}

// SIGINT and SIGTERM: both stop the server gracefully.
sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

// "[::1]" for an IPv6 host, the host itself otherwise.
std::string BracketHost(const std::string& host) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]")
                                             : host;
}

// The HTTP options a primary and a gateway replica share: the dashboard's
// files and the live feed's bounds and origins.
void SetDashboardAndLive(const Config& config,
                         gateway::HttpServerOptions* http_options) {
  http_options->dashboard_dir = config.dashboard_dir;
  if (std::error_code ec; !std::filesystem::is_regular_file(
          std::filesystem::path(config.dashboard_dir) / "index.html", ec)) {
    std::fprintf(stderr,
                 "vigild: no dashboard: %s/index.html does not exist (build "
                 "it with tools/build-dashboard); / answers 404\n",
                 config.dashboard_dir.c_str());
  }
  http_options->live = config.live;
  for (absl::string_view origin :
       absl::StrSplit(config.allowed_origins, ',', absl::SkipWhitespace())) {
    http_options->live.allowed_origins.emplace_back(
        absl::StripAsciiWhitespace(origin));
  }
}

absl::StatusOr<std::unique_ptr<api::Authenticator>> LoadTokens(
    const Config& config) {
  if (config.tokens_file.empty()) return nullptr;
  return api::Authenticator::FromFile(config.tokens_file);
}

// Blocks until SIGTERM or SIGINT and says which.
void AwaitStopSignal(const Config& config) {
  const sigset_t signals = StopSignals();
  int received = 0;
  while (sigwait(&signals, &received) != 0) {
  }
  std::printf("vigild: %s received; stopping (up to %llu ms)\n",
              received == SIGTERM ? "SIGTERM" : "SIGINT",
              static_cast<unsigned long long>(config.shutdown_grace_ms));
  std::fflush(stdout);
}

// The token a replica sends upstream: the file's first line, else
// $VIGIL_UPSTREAM_TOKEN, else none.
absl::StatusOr<std::string> UpstreamToken(const Config& config) {
  if (config.upstream_token_file.empty()) {
    const char* env = std::getenv("VIGIL_UPSTREAM_TOKEN");
    return std::string(env != nullptr ? env : "");
  }
  std::ifstream in(config.upstream_token_file);
  std::string token;
  if (!in || !std::getline(in, token)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--upstream-token-file: cannot read a line from ",
                     config.upstream_token_file));
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--upstream-token-file: ", config.upstream_token_file,
        " starts with an empty line"));
  }
  return token;
}

// A gateway replica's log: the primary's Subscribe at --upstream, or the
// JetStream stream at --nats-url (docs/operations.md "Gateway replicas").
struct GatewaySource {
  std::unique_ptr<eventlog::EventLog> log;
  std::function<absl::Status()> health;  // /readyz
  std::string name;                      // for the start line
};

absl::StatusOr<GatewaySource> StartGatewaySource(const Config& config,
                                                 base::Metrics* metrics) {
  if (!config.upstream.empty()) {
    ASSIGN_OR_RETURN(std::string token, UpstreamToken(config));
    ASSIGN_OR_RETURN(std::unique_ptr<gateway::UpstreamLog> upstream,
                     gateway::UpstreamLog::Start({.target = config.upstream,
                                                  .token = std::move(token),
                                                  .metrics = metrics}));
    gateway::UpstreamLog* log = upstream.get();
    return GatewaySource{.log = std::move(upstream),
                         .health = [log] { return log->Health(); },
                         .name = config.upstream};
  }
  std::string primary = config.primary_grpc;
  if (!config.primary_url.empty()) {
    primary = primary.empty() ? config.primary_url
                              : absl::StrCat(primary, " (gRPC) or ",
                                             config.primary_url, " (HTTP)");
  }
  ASSIGN_OR_RETURN(
      std::unique_ptr<replication::JetStreamLog> stream,
      replication::JetStreamLog::Start(
          {.nats_url = config.mirror.nats_url,
           .stream = config.mirror.stream,
           .subject_prefix = config.mirror.subject_prefix,
           .window = {.primary = std::move(primary)},
           .metrics = metrics}));
  replication::JetStreamLog* log = stream.get();
  return GatewaySource{
      .log = std::move(stream),
      .health = [log] { return log->Health(); },
      .name = absl::StrCat("JetStream stream ", config.mirror.stream, " at ",
                           config.mirror.nats_url)};
}

// vigild --gateway-only: the live feed, the REST log reads and the
// dashboard, from the primary at --upstream or from the JetStream stream
// it mirrors to (docs/operations.md "Gateway replicas").
int ServeGateway(const Config& config, const std::string& http_host) {
  absl::StatusOr<std::unique_ptr<api::Authenticator>> authenticator =
      LoadTokens(config);
  if (!authenticator.ok()) {
    std::fprintf(stderr, "vigild: %s\n",
                 authenticator.status().ToString().c_str());
    return kExitUsage;
  }
  base::Metrics metrics;
  absl::StatusOr<GatewaySource> source = StartGatewaySource(config, &metrics);
  if (!source.ok()) {
    std::fprintf(stderr, "vigild: %s\n", source.status().ToString().c_str());
    return kExitUsage;
  }
  eventlog::EventLog* log = source->log.get();
  gateway::HttpServerOptions http_options;
  http_options.listen = config.http_listen;
  http_options.authenticator = authenticator->get();
  http_options.readiness = source->health;
  SetDashboardAndLive(config, &http_options);
  absl::StatusOr<std::unique_ptr<gateway::HttpServer>> http =
      gateway::HttpServer::Start(http_options, log, &metrics);
  if (!http.ok()) {
    std::fprintf(stderr, "vigild: HTTP on %s: %s\n", config.http_listen.c_str(),
                 http.status().ToString().c_str());
    return kExitFailure;
  }
  std::printf(
      "vigild: gateway replica of %s serving HTTP on %s:%d\n",
      source->name.c_str(), BracketHost(http_host).c_str(),
      static_cast<int>((*http)->port()));
  std::fflush(stdout);

  AwaitStopSignal(config);
  (*http)->BeginShutdown();
  (*http)->Stop();
  http->reset();
  source->log.reset();
  std::printf("vigild: stopped\n");
  std::fflush(stdout);
  return kExitOk;
}

// The log's options from the flags. No flag turns syncing off: only the
// environment variable below does, for vigil-torture's power-loss control
// run (eventlog/options.h), and vigild says so loudly on every start.
eventlog::Options LogOptions(const Config& config) {
  eventlog::Options options = config.log;
  const char* unsafe = std::getenv("VIGIL_UNSAFE_NO_FSYNC_FOR_TESTS");
  if (unsafe != nullptr && std::string_view(unsafe) == "1") {
    options.sync = false;
    std::fprintf(stderr,
                 "vigild: WARNING: VIGIL_UNSAFE_NO_FSYNC_FOR_TESTS=1: appends "
                 "are acknowledged without fsync and a power cut loses them "
                 "(for tools/torture's control run only)\n");
  }
  return options;
}

// How long a --webhooks=here standby may take to apply the stream before
// its webhook service starts (else vigild exits saying so).
constexpr absl::Duration kWebhooksCatchUpBound = absl::Minutes(10);

// The webhook service's options from the flags.
webhooks::WebhookOptions WebhookOptionsOf(const Config& config,
                                          base::Metrics* metrics) {
  webhooks::WebhookOptions options;
  options.state_dir = config.data_dir + "/webhooks";
  options.allow_private = config.webhooks_allow_private;
  options.retry = config.webhook_retry;
  options.timeout = absl::Milliseconds(config.webhook_timeout_ms);
  options.record_checkpoint_every =
      absl::Milliseconds(config.webhook_checkpoint_every_ms);
  options.secret_grace = absl::Seconds(config.webhook_secret_grace_s);
  options.max_endpoints = config.webhook_max_endpoints;
  options.max_dead_letters = config.webhook_max_dead_letters;
  options.verify_certificates = config.webhook_verify_tls;
  options.ca_file = config.webhook_ca_file;
  options.metrics = metrics;
  return options;
}

// The role's options from the flags (role.h).
RoleOptions RoleOptionsOf(const Config& config, base::Metrics* metrics,
                          const std::unique_ptr<LeaderServices>* leader) {
  RoleOptions options{.mode = config.replication,
                      .standby = config.standby,
                      .mirror = config.mirror,
                      .primary_grpc = config.primary_grpc,
                      .primary_url = config.primary_url,
                      .metrics = metrics};
  options.mirror.store_timeout =
      absl::Milliseconds(config.replication_timeout_ms);
  options.mirror.metrics = metrics;
  options.on_promoted = [leader] {
    if (absl::Status started = (*leader)->Start(); !started.ok()) {
      std::fprintf(stderr, "vigild: promoted, but %s\n",
                   started.ToString().c_str());
    }
  };
  options.on_lost = [leader] { (*leader)->Stop(); };
  if (!config.etcd_endpoints.empty()) {
    options.leadership = replication::LeadershipOptions{
        .etcd = {.endpoints = config.etcd_endpoints},
        .key = config.leader_key.empty()
                   ? absl::StrCat("/vigil/", config.mirror.stream, "/leader")
                   : config.leader_key,
        .ttl = absl::Seconds(config.leader_ttl_s),
        .margin = absl::Milliseconds(config.leader_margin_ms)};
  }
  return options;
}

int Serve(const Config& config, const HostPort& listen,
          const std::string& http_host) {
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      eventlog::EventLog::Open(LogOptions(config), config.data_dir);
  if (!log.ok()) {
    std::fprintf(stderr, "vigild: cannot open the log in %s: %s\n",
                 config.data_dir.c_str(), log.status().ToString().c_str());
    return kExitFailure;
  }
  absl::StatusOr<std::unique_ptr<api::Authenticator>> loaded =
      LoadTokens(config);
  if (!loaded.ok()) {
    std::fprintf(stderr, "vigild: %s\n", loaded.status().ToString().c_str());
    return kExitUsage;
  }
  std::unique_ptr<api::Authenticator> authenticator = *std::move(loaded);
  api::RateLimiter rate_limiter(
      {.events_per_second = static_cast<double>(config.append_rate),
       .burst = static_cast<double>(config.append_burst)});
  base::Metrics metrics;
  // Started below; the role starts them at a promotion and stops them when
  // the lease is lost (declared first: it outlives the role's threads).
  std::unique_ptr<LeaderServices> leader;
  // The mirror, the standby and the leadership (docs/replication.md):
  // before the append path, which asks it whether it may append and, in
  // sync mode, waits for the mirror; stopped before the log closes.
  absl::StatusOr<std::unique_ptr<Role>> started_role =
      Role::Start(RoleOptionsOf(config, &metrics, &leader), log->get());
  if (!started_role.ok()) {
    std::fprintf(stderr, "vigild: %s\n",
                 started_role.status().ToString().c_str());
    return kExitUsage;
  }
  std::unique_ptr<Role> role = *std::move(started_role);
  api::AppendPathOptions append_options;
  append_options.writable = [r = role.get()] { return r->Writable(); };
  if (config.replication == "sync") {
    append_options.await_replicated =
        [r = role.get()](uint64_t position,
                         std::function<void(absl::Status)> stored) {
          r->AwaitReplicated(position, std::move(stored));
        };
  }
  // Another vigild delivers the webhooks and appends its `$webhooks` here.
  if (config.webhooks == "elsewhere") {
    append_options.admin_streams = {webhooks::kWebhooksStream};
  }
  // One append path for gRPC and HTTP: one in-flight bound, one rate limit.
  api::AppendPath appends(log->get(), append_options, &rate_limiter, &metrics);
  auto hub = std::make_unique<api::SubscriptionHub>(
      log->get(), api::SubscriptionOptions{}, &metrics);
  // Time travel needs only the log: snapshots are written beside it.
  projections::TimeTravel time_travel(
      log->get(), {.snapshot_interval = config.snapshot_interval});
  time_travel.StartSnapshotting();
  projections::TimeTravelQueries state_queries(&time_travel);
  auto service = std::make_unique<api::EventStoreService>(
      log->get(), hub.get(), config.service, authenticator.get(),
      /*rate_limiter=*/nullptr, &metrics, &state_queries, &appends);
  // OTLP trace ingest (docs/otlp.md), over the same append path.
  absl::StatusOr<otlp::PriceTable> prices =
      config.otlp_prices_file.empty()
          ? otlp::PriceTable::BuiltIn()
          : otlp::PriceTable::FromFile(config.otlp_prices_file);
  if (!prices.ok()) {
    std::fprintf(stderr, "vigild: --otlp-prices: %s\n",
                 prices.status().ToString().c_str());
    return kExitUsage;
  }
  otlp::MappingOptions otlp_options;
  otlp_options.prices = &*prices;
  otlp_options.span_limits.max_event_bytes = config.log.max_event_bytes;
  otlp_options.max_append_events = config.log.max_append_events;
  otlp_options.max_append_bytes = config.log.max_append_bytes;
  otlp::TraceIngest traces(log->get(), &appends, otlp_options, &metrics);
  otlp::TraceService trace_service(&traces, authenticator.get(), &metrics);
  // The read side: PostgreSQL (given or embedded) and the projections.
  std::unique_ptr<projections::EmbeddedPostgres> postgres;
  std::unique_ptr<projections::ProjectionService> read_side;
  if (config.projections == "on") {
    std::string pg_url = config.pg_url;
    if (pg_url.empty()) {
      absl::StatusOr<std::unique_ptr<projections::EmbeddedPostgres>> started =
          projections::EmbeddedPostgres::Start(
              {.cluster_dir = config.data_dir + "/postgres"});
      if (!started.ok()) {
        std::fprintf(stderr, "vigild: embedded PostgreSQL: %s\n",
                     started.status().ToString().c_str());
        return kExitFailure;
      }
      postgres = *std::move(started);
      pg_url = postgres->url();
      std::printf("vigild: PostgreSQL %s in %s/postgres\n",
                  postgres->adopted() ? "adopted (already running)"
                                      : "started",
                  config.data_dir.c_str());
    }
    projections::ProjectionServiceOptions read_options;
    read_options.pg_url = pg_url;
    read_options.read_url = config.pg_read_url;
    read_options.metrics = &metrics;
    read_options.domain.metrics_retention_days = config.metrics_retention_days;
    read_options.min_position_wait =
        absl::Milliseconds(config.min_position_wait_ms);
    read_side = std::make_unique<projections::ProjectionService>(
        std::move(read_options), log->get());
  }

  // Webhooks and alert rules append to the log: only the leader runs them
  // (leader_services.h), webhooks unless --webhooks=here (below). After
  // the log, before HTTP (which serves their admin routes); on a standby,
  // from its promotion.
  LeaderServiceFactories leader_factories;
  leader_factories.writable = [r = role.get()] { return r->Writable(); };
  if (config.webhooks == "on") {
    leader_factories.webhooks = [&config, &metrics, &log] {
      return webhooks::WebhookService::Start(WebhookOptionsOf(config, &metrics),
                                             log->get());
    };
  }
  if (config.alerts == "on") {
    leader_factories.alerts = [&config, &metrics, &log] {
      alerts::AlertOptions alert_options;
      alert_options.max_rules = config.alert_max_rules;
      alert_options.evaluator.max_subjects_per_rule = config.alert_max_subjects;
      alert_options.snapshot_every = config.alert_snapshot_every;
      alert_options.metrics = &metrics;
      return alerts::AlertService::Start(std::move(alert_options), log->get());
    };
  }
  leader = std::make_unique<LeaderServices>(std::move(leader_factories));
  // --webhooks=here: delivered by this vigild whatever its role, from its
  // own log, appending `$webhooks` where the leader is (leader_log.h).
  std::unique_ptr<LeaderLog> webhook_log;
  std::unique_ptr<webhooks::WebhookService> webhooks_here;
  if (config.webhooks == "here") {
    absl::StatusOr<std::string> token = UpstreamToken(config);
    if (!token.ok()) {
      std::fprintf(stderr, "vigild: %s\n", token.status().ToString().c_str());
      return kExitUsage;
    }
    // The service folds `$webhooks` from the log once, at start: a standby
    // first applies what the stream holds (its registrations, the
    // checkpoints it recorded before a restart).
    if (absl::Status caught_up =
            role->AwaitCaughtUp(absl::Now() + kWebhooksCatchUpBound);
        !caught_up.ok()) {
      std::fprintf(stderr,
                   "vigild: --webhooks=here: the standby's log did not catch "
                   "up with the stream: %s\n",
                   caught_up.ToString().c_str());
      return kExitFailure;
    }
    webhook_log = std::make_unique<LeaderLog>(
        LeaderLogOptions{
            .leader = [r = role.get()] { return r->AppendTarget(); },
            .token = *std::move(token)},
        log->get());
    absl::StatusOr<std::unique_ptr<webhooks::WebhookService>> started =
        webhooks::WebhookService::Start(WebhookOptionsOf(config, &metrics),
                                        webhook_log.get());
    if (!started.ok()) {
      std::fprintf(stderr, "vigild: webhooks: %s\n",
                   started.status().ToString().c_str());
      return kExitFailure;
    }
    webhooks_here = *std::move(started);
  }
  if (config.standby) {
    if (config.webhooks == "on" || config.alerts == "on") {
      std::printf("vigild: standby: webhooks and alerts start if this vigild "
                  "is promoted\n");
    }
  } else if (absl::Status started = leader->Start(); !started.ok()) {
    std::fprintf(stderr, "vigild: %s\n", started.ToString().c_str());
    return kExitFailure;
  }

  gateway::HttpServerOptions http_options;
  http_options.listen = config.http_listen;
  http_options.webhooks = webhooks_here != nullptr ? webhooks_here.get()
                                                   : leader->webhook_admin();
  http_options.alerts = leader->alert_admin();
  http_options.read_models = read_side.get();
  http_options.state_queries = &state_queries;
  http_options.authenticator = authenticator.get();
  http_options.append_path = &appends;
  http_options.traces = &traces;
  http_options.otlp_max_body_bytes = config.otlp_max_body_bytes;
  http_options.replication_status = [r = role.get()] {
    return r->StatusJson();
  };
  SetDashboardAndLive(config, &http_options);
  absl::StatusOr<std::unique_ptr<gateway::HttpServer>> http =
      gateway::HttpServer::Start(http_options, log->get(), &metrics);
  if (!http.ok()) {
    std::fprintf(stderr, "vigild: HTTP on %s: %s\n", config.http_listen.c_str(),
                 http.status().ToString().c_str());
    return kExitFailure;
  }

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.grpc_listen,
                           grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service.get());
  builder.RegisterService(&trace_service);
  // An OTLP export may be larger than an append (it becomes several).
  builder.SetMaxReceiveMessageSize(
      std::max(api::MaxReceiveMessageBytes(config.log),
               static_cast<int>(std::min<size_t>(config.otlp_max_body_bytes,
                                                 INT32_MAX))));
  // gRPC sets SO_REUSEPORT by default, which would let a second server
  // share the port and silently take half the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Gateway replicas keep their Subscribe open with keepalive pings
  // (gateway::kUpstreamKeepalive); the default policy (one ping per 5 min
  // without data) would answer them with GOAWAY.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      static_cast<int>(
          absl::ToInt64Milliseconds(gateway::kUpstreamKeepalive / 2)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "vigild: cannot listen on %s\n",
                 config.grpc_listen.c_str());
    return kExitFailure;
  }
  const std::string host = BracketHost(listen.host);
  std::printf("vigild: serving gRPC on %s:%d and HTTP on %s:%d (data in %s)\n",
              host.c_str(), port, BracketHost(http_host).c_str(),
              static_cast<int>((*http)->port()), config.data_dir.c_str());
  std::fflush(stdout);

  // Leadership and the mirror, now that the addresses are known; a
  // primary refused the leadership stops at once.
  int exit_code = kExitOk;
  if (absl::Status begun = role->Begin(
          absl::StrCat(host, ":", port),
          absl::StrCat("http://", BracketHost(http_host), ":",
                       (*http)->port()));
      !begun.ok()) {
    std::fprintf(stderr, "vigild: %s\n", begun.ToString().c_str());
    exit_code = kExitFailure;
  } else {
    AwaitStopSignal(config);
  }

  // /readyz turns 503 first, so a load balancer stops sending work.
  (*http)->BeginShutdown();
  // Subscriptions and append sessions never end by themselves: end them
  // first (a session answers its appends in flight, then ends with
  // UNAVAILABLE), so Shutdown only waits for calls that finish.
  hub->Stop();
  service->StopAppendSessions();
  (*http)->Stop();
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(config.shutdown_grace_ms));
  server.reset();
  // Stopped above; gone before what it served from (read models, webhooks,
  // time travel, the log).
  http->reset();
  service.reset();
  hub.reset();
  // Webhook workers end their requests in flight (up to the timeout); what
  // they had not settled is delivered again after the restart.
  leader->Stop();
  if (webhooks_here != nullptr) webhooks_here->Stop();
  // The projections finish their batches in flight; PostgreSQL stops after
  // them, the log last.
  read_side.reset();
  if (postgres != nullptr) {
    if (absl::Status stopped = postgres->Stop(); !stopped.ok()) {
      std::fprintf(stderr, "vigild: stopping PostgreSQL: %s\n",
                   stopped.ToString().c_str());
    }
  }
  // The mirror and the standby read and write the log: stopped before it
  // closes (appends the log still finishes are then answered UNAVAILABLE
  // in sync mode); the leadership is given up after the mirror stopped.
  role->Stop();
  // The snapshot thread waits on the log: end it before the log closes.
  time_travel.StopSnapshotting();
  log->reset();  // finishes queued appends, then closes
  std::printf("vigild: stopped\n");
  std::fflush(stdout);
  return exit_code;
}

int Main(const std::vector<std::string_view>& args) {
  for (std::string_view arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(Help().c_str(), stdout);
      return kExitOk;
    }
  }
  absl::StatusOr<Config> config = LoadConfig(args);
  if (!config.ok()) return Usage(std::string(config.status().message()));
  absl::StatusOr<ListenAddresses> listen = CheckConfig(*config);
  if (!listen.ok()) return Usage(std::string(listen.status().message()));

  std::fprintf(stderr, "vigild: memory allocator: %s\n",
               AllocatorDescription().c_str());
  // Before anything opens a file: see file_limit.h.
  if (absl::StatusOr<uint64_t> files = RaiseFileLimit(); !files.ok()) {
    std::fprintf(stderr, "vigild: warning: %s\n",
                 files.status().ToString().c_str());
  }
  // Blocked before any thread starts, so every thread inherits the mask and
  // the signals wait for sigwait() in Serve.
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (config->gateway_only) return ServeGateway(*config, listen->http.host);
  return Serve(*config, listen->grpc, listen->http.host);
}

}  // namespace
}  // namespace vigil::vigild

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex keeps
  // lock-order graphs for deadlock detection: 2-3% of vigild's CPU under 64
  // appending clients (GraphCycles in profiles). A release build of Abseil
  // has it off; so does the server. Tests of the libraries keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return vigil::vigild::Main(
      std::vector<std::string_view>(argv + 1, argv + argc));
}
