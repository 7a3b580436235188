// vigild: the Vigil server. Serves the gRPC EventStore (SPEC "gRPC") over the
// event log in --data-dir until SIGTERM or SIGINT, then stops gracefully:
// subscriptions end (UNAVAILABLE: clients resume from the last position they
// saw), in-flight appends finish and are acknowledged, the log is closed.
//
// Every setting is a flag and an environment variable (the flag wins); the
// table in Settings() is the one place that names them, parses them and
// prints them, with their defaults, in `vigild --help`.
//
// Threads: main parses, starts the server, then waits for a signal in
// sigwait(); SIGINT and SIGTERM are blocked in every thread, so no work is
// ever done in a signal handler.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "api/auth.h"
#include "api/event_store_service.h"
#include "api/rate_limiter.h"
#include "api/subscription.h"
#include "gateway/http_server.h"
#include "gateway/upstream_log.h"
#include "api/metrics.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "grpcpp/grpcpp.h"
#include "projections/embedded_postgres.h"
#include "projections/projection_service.h"
#include "projections/state_at.h"
#include "projections/state_json.h"
#include "tools/vigil/cli.h"
#include "projections/webhooks/retry_policy.h"
#include "projections/webhooks/webhook_service.h"

namespace vigil::vigild {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the log cannot be opened, no listener
constexpr int kExitUsage = 64;   // a bad flag or value, a refused address

// Debian's Abseil has its own string_view, distinct from std::string_view.
absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

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
  std::string projections = "on";
  // Time travel: positions between snapshots of the folds.
  uint64_t snapshot_interval =
      projections::TimeTravelOptions{}.snapshot_interval;
  int metrics_retention_days = 30;
  uint64_t min_position_wait_ms = 5000;
  // The dashboard's built files; the build's gateway/dashboard/dist.
  std::string dashboard_dir = VIGIL_DEFAULT_DASHBOARD_DIR;
  // Webhooks: state in DATA_DIR/webhooks.
  std::string webhooks = "on";
  bool webhooks_allow_private = false;
  webhooks::RetryPolicy webhook_retry;
  uint64_t webhook_timeout_ms = 15000;
  uint64_t webhook_secret_grace_s = 24 * 3600;
  size_t webhook_max_endpoints = 100;
  size_t webhook_max_dead_letters = 10000;
  bool webhook_verify_tls = true;
  std::string webhook_ca_file;
  // Comma-separated; empty: the HTTP server's own origins.
  std::string allowed_origins;
  gateway::LiveOptions live;
  // A gateway replica: no log, PostgreSQL or gRPC server of its own.
  bool gateway_only = false;
  std::string upstream;             // the primary's gRPC HOST:PORT
  std::string upstream_token_file;  // empty: $VIGIL_UPSTREAM_TOKEN
};

struct Setting {
  cli::FlagSpec flag;
  std::string_view env;
  // The value in `config`, as --help prints it.
  std::function<std::string(const Config& config)> show;
  // Sets the value from `text`; `source` names the flag or variable in
  // errors.
  std::function<absl::Status(std::string_view text, std::string_view source,
                             Config* config)>
      set;
};

Setting Text(cli::FlagSpec flag, std::string_view env,
             std::string Config::*field) {
  return Setting{
      flag, env, [field](const Config& config) { return config.*field; },
      [field](std::string_view text, std::string_view source, Config* config) {
        if (text.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(AsAbsl(source), ": must not be empty"));
        }
        config->*field = std::string(text);
        return absl::OkStatus();
      }};
}

// A true/false setting; a bare `--flag` reads "true".
Setting Switch(cli::FlagSpec flag, std::string_view env, bool Config::*field) {
  return Setting{
      flag, env,
      [field](const Config& config) {
        return std::string(config.*field ? "true" : "false");
      },
      [field](std::string_view text, std::string_view source, Config* config) {
        if (text != "true" && text != "false") {
          return absl::InvalidArgumentError(
              absl::StrCat(AsAbsl(source), ": expected true or false, not \"",
                           AsAbsl(text), "\""));
        }
        config->*field = text == "true";
        return absl::OkStatus();
      }};
}

// A positive integer setting; `field` gives the member it sets, `scale`
// converts from the unit of the flag to that of the member.
template <typename Field>
Setting Count(cli::FlagSpec flag, std::string_view env, Field field,
              uint64_t scale = 1) {
  return Setting{
      flag, env,
      [field, scale](const Config& config) {
        Config copy = config;
        return absl::StrCat(static_cast<uint64_t>(field(copy)) / scale);
      },
      [field, scale](std::string_view text, std::string_view source,
                     Config* config) {
        using T = std::remove_reference_t<decltype(field(*config))>;
        const uint64_t max =
            static_cast<uint64_t>(std::numeric_limits<T>::max()) / scale;
        uint64_t value = 0;
        // SimpleAtoi alone would also take a sign and surrounding blanks.
        if (text.empty() || text.find_first_not_of("0123456789") != text.npos ||
            !absl::SimpleAtoi(AsAbsl(text), &value) || value == 0 ||
            value > max) {
          return absl::InvalidArgumentError(
              absl::StrCat(AsAbsl(source), ": \"", AsAbsl(text),
                           "\" is not an integer from 1 to ", max));
        }
        field(*config) = static_cast<T>(value * scale);
        return absl::OkStatus();
      }};
}

const std::vector<Setting>& Settings() {
  static const auto* const kSettings = new std::vector<Setting>{
      Text({"data-dir", "DIR", "the event log's data directory"},
           "VIGIL_DATA_DIR", &Config::data_dir),
      Text({"grpc-listen", "HOST:PORT",
            "where gRPC listens; without --tokens-file loopback only "
            "(127.0.0.0/8, [::1], localhost)"},
           "VIGIL_GRPC_LISTEN", &Config::grpc_listen),
      Text({"http-listen", "HOST:PORT",
            "where the HTTP API (REST mirror, /v1/live, /healthz, /readyz, "
            "/metrics) listens; the same loopback rule"},
           "VIGIL_HTTP_LISTEN", &Config::http_listen),
      Text({"tokens-file", "FILE",
            "`<token> <role>` lines (roles: agent, reader, admin); callers "
            "then send `authorization: Bearer <token>`. Unset: anonymous "
            "callers may do everything, on loopback only"},
           "VIGIL_TOKENS_FILE", &Config::tokens_file),
      Switch({"gateway-only", "",
              "run as a stateless gateway replica: serve /v1/live, "
              "/v1/live/sse, the REST log reads and the dashboard from the "
              "primary at --upstream (no log, database or gRPC server here)"},
             "VIGIL_GATEWAY_ONLY", &Config::gateway_only),
      Text({"upstream", "HOST:PORT",
            "the primary's gRPC address a --gateway-only replica follows"},
           "VIGIL_UPSTREAM", &Config::upstream),
      Text({"upstream-token-file", "FILE",
            "a file holding the bearer token (role reader) a replica sends "
            "to its primary; unset: $VIGIL_UPSTREAM_TOKEN, else none"},
           "VIGIL_UPSTREAM_TOKEN_FILE", &Config::upstream_token_file),
      Count({"append-rate", "N",
             "events per second each token may append (token bucket)"},
            "VIGIL_APPEND_RATE",
            [](Config& c) -> uint64_t& { return c.append_rate; }),
      Count({"append-burst", "N", "events a token may append at once"},
            "VIGIL_APPEND_BURST",
            [](Config& c) -> uint64_t& { return c.append_burst; }),
      Count({"max-event-bytes", "N", "largest data + metadata of one event"},
            "VIGIL_MAX_EVENT_BYTES",
            [](Config& c) -> size_t& { return c.log.max_event_bytes; }),
      Count({"max-append-bytes", "N",
             "largest data + metadata of one append (the gRPC message limit "
             "is this plus 1 MiB)"},
            "VIGIL_MAX_APPEND_BYTES",
            [](Config& c) -> size_t& { return c.log.max_append_bytes; }),
      Count({"max-append-events", "N", "most events in one append"},
            "VIGIL_MAX_APPEND_EVENTS",
            [](Config& c) -> size_t& { return c.log.max_append_events; }),
      Count(
          {"idempotency-retention-s", "SECONDS",
           "how long idempotency keys are remembered"},
          "VIGIL_IDEMPOTENCY_RETENTION_S",
          [](Config& c) -> int64_t& { return c.log.idempotency_retention_us; },
          1000 * 1000),
      Count({"max-queued-appends", "N",
             "appends waiting for the writer; more are refused with "
             "RESOURCE_EXHAUSTED"},
            "VIGIL_MAX_QUEUED_APPENDS",
            [](Config& c) -> size_t& { return c.log.max_queued_appends; }),
      Count({"block-cache-bytes", "N", "RocksDB block cache for reads"},
            "VIGIL_BLOCK_CACHE_BYTES",
            [](Config& c) -> size_t& { return c.log.block_cache_bytes; }),
      Count({"read-threads", "N",
             "threads reading the log for ReadStream, "
             "ReadAll and GetStream"},
            "VIGIL_READ_THREADS",
            [](Config& c) -> int& { return c.service.reader_threads; }),
      Count({"max-queued-reads", "N",
             "reads waiting for those threads; more are refused with "
             "RESOURCE_EXHAUSTED"},
            "VIGIL_MAX_QUEUED_READS",
            [](Config& c) -> size_t& { return c.service.max_queued_reads; }),
      Count({"max-active-reads", "N",
             "ReadStream and ReadAll calls open at "
             "once; more are refused"},
            "VIGIL_MAX_ACTIVE_READS",
            [](Config& c) -> size_t& { return c.service.max_active_reads; }),
      Count({"default-max-count", "N",
             "events a ReadStream or ReadAll returns when max_count is 0"},
            "VIGIL_DEFAULT_MAX_COUNT",
            [](Config& c) -> uint64_t& { return c.service.default_max_count; }),
      Count({"shutdown-grace-ms", "MS",
             "on SIGTERM/SIGINT, how long in-flight calls may take before "
             "they are cancelled"},
            "VIGIL_SHUTDOWN_GRACE_MS",
            [](Config& c) -> uint64_t& { return c.shutdown_grace_ms; }),
      Text({"pg-url", "URL",
            "PostgreSQL for the read models (a libpq URI). Unset: vigild "
            "runs a private PostgreSQL 15 cluster in DATA_DIR/postgres "
            "(Unix socket only), started and stopped with it"},
           "VIGIL_PG_URL", &Config::pg_url),
      Text({"projections", "on|off",
            "run the projections into the read models and serve "
            "/v1/agents, /v1/tasks, ... /v1/projections"},
           "VIGIL_PROJECTIONS", &Config::projections),
      Count({"snapshot-interval", "N",
             "time travel: snapshot the read-model folds every N log "
             "positions, so a state-at replays fewer than N events"},
            "VIGIL_SNAPSHOT_INTERVAL",
            [](Config& c) -> uint64_t& { return c.snapshot_interval; }),
      Count({"metrics-retention-days", "DAYS",
             "days of per-agent per-minute metrics kept (older day "
             "partitions are dropped)"},
            "VIGIL_METRICS_RETENTION_DAYS",
            [](Config& c) -> int& { return c.metrics_retention_days; }),
      Text({"allowed-origins", "ORIGIN,...",
            "origins (scheme://host[:port], exact match) whose pages may "
            "open the /v1/live WebSocket. Unset: the server's own, "
            "http://127.0.0.1:PORT, http://localhost:PORT, "
            "http://[::1]:PORT"},
           "VIGIL_ALLOWED_ORIGINS", &Config::allowed_origins),
      Count({"live-max-connections", "N",
             "live feed connections (WebSocket and SSE) open at once; more "
             "are answered 503"},
            "VIGIL_LIVE_MAX_CONNECTIONS",
            [](Config& c) -> size_t& { return c.live.max_connections; }),
      Count({"live-max-connections-per-token", "N",
             "live feed connections one token may hold; more are answered "
             "429"},
            "VIGIL_LIVE_MAX_CONNECTIONS_PER_TOKEN", [](Config& c) -> size_t& {
              return c.live.max_connections_per_token;
            }),
      Count({"min-position-wait-ms", "MS",
             "how long a read with min_position=P waits for the read models "
             "to reach P before answering 503"},
            "VIGIL_MIN_POSITION_WAIT_MS",
            [](Config& c) -> uint64_t& { return c.min_position_wait_ms; }),
      Text({"dashboard-dir", "DIR",
            "the dashboard's built files (index.html, assets/), served at "
            "/ on the HTTP port; read once at start"},
           "VIGIL_DASHBOARD_DIR", &Config::dashboard_dir),
      Text({"webhooks", "on|off",
            "deliver events to the endpoints registered at /v1/webhooks"},
           "VIGIL_WEBHOOKS", &Config::webhooks),
      Switch({"webhooks-allow-private", "",
              "let webhooks target loopback, private and link-local "
              "addresses (refused by default: server-side request forgery)"},
             "VIGIL_WEBHOOKS_ALLOW_PRIVATE", &Config::webhooks_allow_private),
      Setting{{"webhooks-retry-schedule", "LIST",
               "waits before each retry of a failed delivery, e.g. "
               "5s,5m,30m; after the last one the delivery is dead-lettered"},
              "VIGIL_WEBHOOKS_RETRY_SCHEDULE",
              [](const Config& c) {
                return webhooks::FormatSchedule(c.webhook_retry.schedule);
              },
              [](std::string_view text, std::string_view source, Config* c) {
                absl::StatusOr<std::vector<absl::Duration>> schedule =
                    webhooks::ParseSchedule(text);
                if (!schedule.ok()) {
                  return absl::InvalidArgumentError(absl::StrCat(
                      AsAbsl(source), ": ", schedule.status().message()));
                }
                c->webhook_retry.schedule = *std::move(schedule);
                return absl::OkStatus();
              }},
      Setting{
          {"webhooks-time-scale", "FACTOR",
           "multiplies every retry wait and circuit cool-down (tests: "
           "0.01); Retry-After is honoured as sent"},
          "VIGIL_WEBHOOKS_TIME_SCALE",
          [](const Config& c) { return absl::StrCat(c.webhook_retry.scale); },
          [](std::string_view text, std::string_view source, Config* c) {
            double scale = 0;
            if (!absl::SimpleAtod(AsAbsl(text), &scale) || !(scale > 0) ||
                scale > 1000) {
              return absl::InvalidArgumentError(
                  absl::StrCat(AsAbsl(source), ": \"", AsAbsl(text),
                               "\" is not a number above 0 and at most 1000"));
            }
            c->webhook_retry.scale = scale;
            return absl::OkStatus();
          }},
      Count({"webhooks-timeout-ms", "MS",
             "one webhook request (connect, TLS, response) must end within it"},
            "VIGIL_WEBHOOKS_TIMEOUT_MS",
            [](Config& c) -> uint64_t& { return c.webhook_timeout_ms; }),
      Count(
          {"webhooks-circuit-threshold", "N",
           "consecutive failed requests that open an endpoint's circuit"},
          "VIGIL_WEBHOOKS_CIRCUIT_THRESHOLD",
          [](Config& c) -> int& { return c.webhook_retry.circuit_threshold; }),
      Count({"webhooks-secret-grace-s", "SECONDS",
             "after rotate-secret, how long the old secret still signs"},
            "VIGIL_WEBHOOKS_SECRET_GRACE_S",
            [](Config& c) -> uint64_t& { return c.webhook_secret_grace_s; }),
      Count({"webhooks-max-endpoints", "N", "webhook endpoints at most"},
            "VIGIL_WEBHOOKS_MAX_ENDPOINTS",
            [](Config& c) -> size_t& { return c.webhook_max_endpoints; }),
      Count({"webhooks-max-dead-letters", "N",
             "dead letters one endpoint may hold; reaching it disables the "
             "endpoint"},
            "VIGIL_WEBHOOKS_MAX_DEAD_LETTERS",
            [](Config& c) -> size_t& { return c.webhook_max_dead_letters; }),
      Switch({"webhooks-verify-tls", "",
              "verify HTTPS endpoints' certificates (chain and host name)"},
             "VIGIL_WEBHOOKS_VERIFY_TLS", &Config::webhook_verify_tls),
      Text({"webhooks-ca-file", "FILE",
            "extra CA certificates (PEM) trusted for HTTPS endpoints"},
           "VIGIL_WEBHOOKS_CA_FILE", &Config::webhook_ca_file),
  };
  return *kSettings;
}

std::string Help() {
  std::string help =
      "Usage: vigild [flags]\n"
      "\n"
      "The Vigil server: serves the gRPC EventStore API (vigil.v1) over the\n"
      "event log in the data directory until SIGTERM or SIGINT, then lets\n"
      "in-flight calls finish, closes the log and exits 0.\n"
      "\n"
      "Flags (each also read from the environment variable shown; the flag\n"
      "wins):\n";
  const Config defaults;
  constexpr size_t kColumn = 37;
  for (const Setting& setting : Settings()) {
    cli::AppendHelpRow(
        absl::StrCat("  --", AsAbsl(setting.flag.name), " ",
                     AsAbsl(setting.flag.value_name)),
        absl::StrCat(AsAbsl(setting.flag.help), " [", AsAbsl(setting.env),
                     ", default ", setting.show(defaults), "]"),
        kColumn, &help);
  }
  cli::AppendHelpRow("  --help", "this text", kColumn, &help);
  help.append(
      "\n"
      "Exit codes:\n"
      "  0   stopped by SIGTERM or SIGINT after a clean shutdown\n"
      "  1   the log cannot be opened, or gRPC cannot listen\n"
      "  64  a bad flag or value, or a listen address that is not loopback\n");
  return help;
}

// Flags over environment variables over defaults.
absl::StatusOr<Config> LoadConfig(const std::vector<std::string_view>& args) {
  std::vector<cli::FlagSpec> specs;
  for (const Setting& setting : Settings()) specs.push_back(setting.flag);
  absl::StatusOr<cli::FlagValues> flags = cli::ParseFlags(specs, args);
  if (!flags.ok()) return flags.status();
  Config config;
  for (const Setting& setting : Settings()) {
    std::string source;
    std::string_view text;
    if (flags->Has(setting.flag.name)) {
      source = absl::StrCat("--", AsAbsl(setting.flag.name));
      text = flags->Get(setting.flag.name);
    } else if (const char* env = std::getenv(std::string(setting.env).c_str());
               env != nullptr && *env != '\0') {
      source = std::string(setting.env);
      text = env;
    } else {
      continue;
    }
    if (absl::Status status = setting.set(text, source, &config);
        !status.ok()) {
      return status;
    }
  }
  return config;
}

// The host and port of a gRPC listen address "HOST:PORT" or "[V6]:PORT".
struct HostPort {
  std::string host;  // without brackets
  std::string port;
};

absl::StatusOr<HostPort> SplitAddress(std::string_view address) {
  HostPort split;
  size_t colon;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == address.npos) {
      return absl::InvalidArgumentError("an unclosed [ in the address");
    }
    split.host = std::string(address.substr(1, close - 1));
    colon = close + 1;
    if (colon >= address.size() || address[colon] != ':') colon = address.npos;
  } else {
    colon = address.rfind(':');
    if (colon != address.npos) {
      split.host = std::string(address.substr(0, colon));
      if (split.host.find(':') != std::string::npos) {
        return absl::InvalidArgumentError(
            "an IPv6 address goes in brackets: [::1]:7600");
      }
    }
  }
  uint64_t port = 0;
  if (colon == address.npos ||
      address.find_first_not_of("0123456789", colon + 1) != address.npos ||
      !absl::SimpleAtoi(AsAbsl(address.substr(colon + 1)), &port) ||
      port > 65535) {
    return absl::InvalidArgumentError("expected HOST:PORT, port 0 to 65535");
  }
  split.port = std::string(address.substr(colon + 1));
  return split;
}

// SPEC "Security": with no tokens configured the server listens on loopback
// only, and bound to any other address it refuses to start.
absl::Status CheckLoopback(const HostPort& address) {
  if (api::IsLoopbackHost(address.host)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "refusing to listen on \"", address.host,
      "\" without tokens: without --tokens-file vigild serves loopback only "
      "(127.0.0.0/8, [::1], localhost)"));
}

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

// vigild --gateway-only: the live feed, the REST log reads and the
// dashboard, from the primary at --upstream (README "Gateway replicas").
int ServeGateway(const Config& config, const std::string& http_host) {
  absl::StatusOr<std::unique_ptr<api::Authenticator>> authenticator =
      LoadTokens(config);
  if (!authenticator.ok()) {
    std::fprintf(stderr, "vigild: %s\n",
                 authenticator.status().ToString().c_str());
    return kExitUsage;
  }
  absl::StatusOr<std::string> token = UpstreamToken(config);
  if (!token.ok()) {
    std::fprintf(stderr, "vigild: %s\n", token.status().ToString().c_str());
    return kExitUsage;
  }
  api::Metrics metrics;
  absl::StatusOr<std::unique_ptr<gateway::UpstreamLog>> upstream =
      gateway::UpstreamLog::Start({.target = config.upstream,
                                   .token = *std::move(token),
                                   .metrics = &metrics});
  if (!upstream.ok()) {
    std::fprintf(stderr, "vigild: --upstream: %s\n",
                 upstream.status().ToString().c_str());
    return kExitUsage;
  }
  gateway::UpstreamLog* log = upstream->get();
  gateway::HttpServerOptions http_options;
  http_options.listen = config.http_listen;
  http_options.authenticator = authenticator->get();
  http_options.readiness = [log] { return log->Health(); };
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
      config.upstream.c_str(), BracketHost(http_host).c_str(),
      static_cast<int>((*http)->port()));
  std::fflush(stdout);

  AwaitStopSignal(config);
  (*http)->BeginShutdown();
  (*http)->Stop();
  http->reset();
  upstream->reset();
  std::printf("vigild: stopped\n");
  std::fflush(stdout);
  return kExitOk;
}

int Serve(const Config& config, const HostPort& listen,
          const std::string& http_host) {
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      eventlog::EventLog::Open(config.log, config.data_dir);
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
  api::Metrics metrics;
  auto hub = std::make_unique<api::SubscriptionHub>(
      log->get(), api::SubscriptionOptions{}, &metrics);
  // Time travel needs only the log: snapshots are written beside it.
  projections::TimeTravel time_travel(
      log->get(), {.snapshot_interval = config.snapshot_interval});
  time_travel.StartSnapshotting();
  projections::TimeTravelQueries state_queries(&time_travel);
  auto service = std::make_unique<api::EventStoreService>(
      log->get(), hub.get(), config.service, authenticator.get(),
      &rate_limiter, &metrics, &state_queries);
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
    read_options.metrics = &metrics;
    read_options.domain.metrics_retention_days = config.metrics_retention_days;
    read_options.min_position_wait =
        absl::Milliseconds(config.min_position_wait_ms);
    read_side = std::make_unique<projections::ProjectionService>(
        std::move(read_options), log->get());
  }

  // Webhooks: after the log, before HTTP (which serves /v1/webhooks).
  std::unique_ptr<webhooks::WebhookService> hooks;
  if (config.webhooks == "on") {
    webhooks::WebhookOptions hook_options;
    hook_options.state_dir = config.data_dir + "/webhooks";
    hook_options.allow_private = config.webhooks_allow_private;
    hook_options.retry = config.webhook_retry;
    hook_options.timeout = absl::Milliseconds(config.webhook_timeout_ms);
    hook_options.secret_grace = absl::Seconds(config.webhook_secret_grace_s);
    hook_options.max_endpoints = config.webhook_max_endpoints;
    hook_options.max_dead_letters = config.webhook_max_dead_letters;
    hook_options.verify_certificates = config.webhook_verify_tls;
    hook_options.ca_file = config.webhook_ca_file;
    hook_options.metrics = &metrics;
    absl::StatusOr<std::unique_ptr<webhooks::WebhookService>> started =
        webhooks::WebhookService::Start(std::move(hook_options), log->get());
    if (!started.ok()) {
      std::fprintf(stderr, "vigild: webhooks: %s\n",
                   started.status().ToString().c_str());
      return kExitFailure;
    }
    hooks = *std::move(started);
  }

  gateway::HttpServerOptions http_options;
  http_options.listen = config.http_listen;
  http_options.webhooks = hooks.get();
  http_options.read_models = read_side.get();
  http_options.state_queries = &state_queries;
  http_options.authenticator = authenticator.get();
  http_options.rate_limiter = &rate_limiter;
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
  builder.SetMaxReceiveMessageSize(api::MaxReceiveMessageBytes(config.log));
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

  AwaitStopSignal(config);

  // /readyz turns 503 first, so a load balancer stops sending work.
  (*http)->BeginShutdown();
  // Subscriptions never end by themselves: end them first, so Shutdown only
  // waits for calls that finish (appends in flight, reads).
  hub->Stop();
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
  hooks.reset();
  // The projections finish their batches in flight; PostgreSQL stops after
  // them, the log last.
  read_side.reset();
  if (postgres != nullptr) {
    if (absl::Status stopped = postgres->Stop(); !stopped.ok()) {
      std::fprintf(stderr, "vigild: stopping PostgreSQL: %s\n",
                   stopped.ToString().c_str());
    }
  }
  // The snapshot thread waits on the log: end it before the log closes.
  time_travel.StopSnapshotting();
  log->reset();  // finishes queued appends, then closes
  std::printf("vigild: stopped\n");
  std::fflush(stdout);
  return kExitOk;
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
  absl::StatusOr<HostPort> listen = SplitAddress(config->grpc_listen);
  if (!listen.ok()) {
    return Usage(absl::StrCat("--grpc-listen \"", config->grpc_listen,
                              "\": ", listen.status().message()));
  }
  absl::StatusOr<HostPort> http_listen = SplitAddress(config->http_listen);
  if (!http_listen.ok()) {
    return Usage(absl::StrCat("--http-listen \"", config->http_listen,
                              "\": ", http_listen.status().message()));
  }
  if (config->webhooks != "on" && config->webhooks != "off") {
    return Usage(absl::StrCat("--webhooks \"", config->webhooks,
                              "\": expected on or off"));
  }
  if (config->projections != "on" && config->projections != "off") {
    return Usage(absl::StrCat("--projections \"", config->projections,
                              "\": expected on or off"));
  }
  if (config->gateway_only != !config->upstream.empty()) {
    return Usage(config->gateway_only
                     ? "--gateway-only needs --upstream HOST:PORT (the "
                       "primary's gRPC address)"
                     : "--upstream is for a --gateway-only replica");
  }
  if (config->gateway_only) {
    if (absl::StatusOr<HostPort> upstream = SplitAddress(config->upstream);
        !upstream.ok()) {
      return Usage(absl::StrCat("--upstream \"", config->upstream,
                                "\": ", upstream.status().message()));
    }
  }
  if (config->tokens_file.empty()) {
    for (const HostPort* address : {&*listen, &*http_listen}) {
      if (config->gateway_only && address == &*listen) continue;
      if (absl::Status status = CheckLoopback(*address); !status.ok()) {
        return Usage(std::string(status.message()));
      }
    }
  }

  // Blocked before any thread starts, so every thread inherits the mask and
  // the signals wait for sigwait() in Serve.
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (config->gateway_only) return ServeGateway(*config, http_listen->host);
  return Serve(*config, *listen, http_listen->host);
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
