#include "tools/vigild/flags.h"

#include <cstdlib>
#include <functional>
#include <limits>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/auth.h"
#include "tools/vigil/cli.h"

namespace vigil::vigild {
namespace {

// Debian's Abseil has its own string_view, distinct from std::string_view.
absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

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

// A text setting held by a nested field (`field` gives it).
Setting TextAt(cli::FlagSpec flag, std::string_view env,
               std::string& (*field)(Config&)) {
  return Setting{
      flag, env,
      [field](const Config& config) {
        Config copy = config;
        return field(copy);
      },
      [field](std::string_view text, std::string_view source, Config* config) {
        if (text.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(AsAbsl(source), ": must not be empty"));
        }
        field(*config) = std::string(text);
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
              "primary at --upstream, or from the JetStream stream it "
              "mirrors to (--nats-url, --nats-stream, "
              "--nats-subject-prefix) without the primary (no log, "
              "database or gRPC server here)"},
             "VIGIL_GATEWAY_ONLY", &Config::gateway_only),
      Text({"upstream", "HOST:PORT",
            "the primary's gRPC address a --gateway-only replica follows"},
           "VIGIL_UPSTREAM", &Config::upstream),
      Text({"upstream-token-file", "FILE",
            "a file holding the bearer token a replica sends to its "
            "primary (role reader), or a --webhooks=here standby to the "
            "leader (role admin); unset: $VIGIL_UPSTREAM_TOKEN, else none"},
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
      Count({"memtable-bytes", "N",
             "RocksDB memtable size (write_buffer_size); the WAL "
             "preallocates about 1.1x this"},
            "VIGIL_MEMTABLE_BYTES",
            [](Config& c) -> size_t& { return c.log.memtable_bytes; }),
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
      Text({"pg-read-url", "URL",
            "PostgreSQL the read routes query instead of --pg-url: a "
            "streaming replica of it (e.g. target_session_attrs="
            "prefer-standby over a Patroni cluster); min_position is then "
            "checked against the checkpoints that server has. Unset: reads "
            "go to --pg-url"},
           "VIGIL_PG_READ_URL", &Config::pg_read_url),
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
      Count({"otlp-max-body-bytes", "N",
             "largest OTLP export: a POST /v1/traces body, compressed or "
             "inflated, and an OTLP/gRPC message"},
            "VIGIL_OTLP_MAX_BODY_BYTES",
            [](Config& c) -> size_t& { return c.otlp_max_body_bytes; }),
      Text({"otlp-prices", "FILE",
            "model prices for the cost of OTLP model-call spans, replacing "
            "the built-in table: JSON {\"<model prefix>\": {\"input\", "
            "\"output\", \"cached_input\"}} in USD per million tokens"},
           "VIGIL_OTLP_PRICES", &Config::otlp_prices_file),
      Text({"dashboard-dir", "DIR",
            "the dashboard's built files (index.html, assets/), served at "
            "/ on the HTTP port; read once at start"},
           "VIGIL_DASHBOARD_DIR", &Config::dashboard_dir),
      Text({"webhooks", "on|off|here|elsewhere",
            "deliver events to the endpoints registered at /v1/webhooks: "
            "on: while this vigild is the leader; here: always, a standby "
            "from its own log, appending $webhooks to the leader; "
            "elsewhere: never, but take the $webhooks appends of the vigild "
            "that runs them `here` (docs/replication.md)"},
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
      Count({"webhooks-checkpoint-every-ms", "MS",
             "how often, at most, an endpoint that delivered records its "
             "checkpoint in $webhooks, where a promoted standby resumes"},
            "VIGIL_WEBHOOKS_CHECKPOINT_EVERY_MS",
            [](Config& c) -> uint64_t& {
              return c.webhook_checkpoint_every_ms;
            }),
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
      Text({"replication", "off|async|sync",
            "mirror the log to a NATS JetStream stream (docs/replication.md): "
            "async answers appends once durable locally; sync once also "
            "stored by a JetStream quorum"},
           "VIGIL_REPLICATION", &Config::replication),
      TextAt({"nats-url", "URL,...",
              "the NATS servers of the JetStream cluster "
              "(nats://127.0.0.1:4222,...); any node will do"},
             "VIGIL_NATS_URL",
             [](Config& c) -> std::string& { return c.mirror.nats_url; }),
      TextAt({"nats-stream", "NAME",
              "the JetStream stream the log is mirrored to (created when "
              "missing)"},
             "VIGIL_NATS_STREAM",
             [](Config& c) -> std::string& { return c.mirror.stream; }),
      TextAt({"nats-subject-prefix", "PREFIX",
              "events of stream S go to subject PREFIX.<S escaped>"},
             "VIGIL_NATS_SUBJECT_PREFIX",
             [](Config& c) -> std::string& { return c.mirror.subject_prefix; }),
      Count({"nats-replicas", "N",
             "copies JetStream keeps of the stream (1 to 5), set when "
             "vigild creates it"},
            "VIGIL_NATS_REPLICAS",
            [](Config& c) -> int& { return c.mirror.replicas; }),
      Count({"replication-timeout-ms", "MS",
             "--replication=sync: an append not stored by a JetStream "
             "quorum within it is answered UNAVAILABLE (HTTP 503)"},
            "VIGIL_REPLICATION_TIMEOUT_MS",
            [](Config& c) -> uint64_t& { return c.replication_timeout_ms; }),
      Count({"replication-max-inflight", "N",
             "publishes to JetStream awaiting their acknowledgement"},
            "VIGIL_REPLICATION_MAX_INFLIGHT",
            [](Config& c) -> size_t& { return c.mirror.max_inflight; }),
      Switch({"standby", "",
              "run as a standby: build the log from the JetStream stream "
              "(--nats-url, --nats-stream), serve reads, subscriptions and "
              "the live feed, refuse appends naming the primary; needs "
              "--replication=async or sync (docs/replication.md)"},
             "VIGIL_STANDBY", &Config::standby),
      Text({"primary-grpc", "HOST:PORT",
            "--standby, or --gateway-only on --nats-url: the primary's gRPC "
            "address, named when an append is refused"},
           "VIGIL_PRIMARY_GRPC", &Config::primary_grpc),
      Text({"primary-url", "URL",
            "--standby, or --gateway-only on --nats-url: the primary's HTTP "
            "URL (http://HOST:PORT), named when an append is refused"},
           "VIGIL_PRIMARY_URL", &Config::primary_url),
      Text({"etcd-endpoints", "URL,...",
            "etcd client URLs (http://127.0.0.1:2379,...): only the holder "
            "of the leader lease appends, and a --standby promotes itself "
            "when the leader key is free (docs/replication.md)"},
           "VIGIL_ETCD_ENDPOINTS", &Config::etcd_endpoints),
      Text({"leader-key", "KEY",
            "the etcd leader key (default /vigil/<--nats-stream>/leader)"},
           "VIGIL_LEADER_KEY", &Config::leader_key),
      Count({"leader-ttl-s", "S",
             "the leader lease's time to live in seconds (at least 2)"},
            "VIGIL_LEADER_TTL_S",
            [](Config& c) -> uint64_t& { return c.leader_ttl_s; }),
      Count({"leader-margin-ms", "MS",
             "a leader stops appending this long before its lease could "
             "expire without a renewal (below the TTL)"},
            "VIGIL_LEADER_MARGIN_MS",
            [](Config& c) -> uint64_t& { return c.leader_margin_ms; }),
      Text({"alerts", "on|off",
            "evaluate the alert rules registered at /v1/alert-rules"},
           "VIGIL_ALERTS", &Config::alerts),
      Count({"alerts-max-rules", "N", "alert rules at most"},
            "VIGIL_ALERTS_MAX_RULES",
            [](Config& c) -> size_t& { return c.alert_max_rules; }),
      Count({"alerts-max-subjects", "N",
             "agents, tasks or managers one alert rule tracks at most"},
            "VIGIL_ALERTS_MAX_SUBJECTS",
            [](Config& c) -> size_t& { return c.alert_max_subjects; }),
      Count({"alerts-snapshot-every", "N",
             "events evaluated between two snapshots of the alert "
             "evaluator's state"},
            "VIGIL_ALERTS_SNAPSHOT_EVERY",
            [](Config& c) -> size_t& { return c.alert_snapshot_every; }),
  };
  return *kSettings;
}

// `address` ("HOST:PORT" or "[V6]:PORT") split at its port.
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

// docs/contract.md "Security": with no tokens configured the server listens on
// loopback only, and bound to any other address it refuses to start.
absl::Status CheckLoopback(const HostPort& address) {
  if (api::IsLoopbackHost(address.host)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "refusing to listen on \"", address.host,
      "\" without tokens: without --tokens-file vigild serves loopback only "
      "(127.0.0.0/8, [::1], localhost)"));
}

}  // namespace

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

absl::StatusOr<ListenAddresses> CheckConfig(const Config& config) {
  absl::StatusOr<HostPort> listen = SplitAddress(config.grpc_listen);
  if (!listen.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grpc-listen \"", config.grpc_listen,
                     "\": ", listen.status().message()));
  }
  absl::StatusOr<HostPort> http_listen = SplitAddress(config.http_listen);
  if (!http_listen.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-listen \"", config.http_listen,
                     "\": ", http_listen.status().message()));
  }
  if (config.webhooks != "on" && config.webhooks != "off" &&
      config.webhooks != "here" && config.webhooks != "elsewhere") {
    return absl::InvalidArgumentError(
        absl::StrCat("--webhooks \"", config.webhooks,
                     "\": expected on, off, here or elsewhere"));
  }
  if (config.alerts != "on" && config.alerts != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--alerts \"", config.alerts, "\": expected on or off"));
  }
  if (config.projections != "on" && config.projections != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--projections \"", config.projections, "\": expected on or off"));
  }
  if (config.replication != "off" && config.replication != "async" &&
      config.replication != "sync") {
    return absl::InvalidArgumentError(
        absl::StrCat("--replication \"", config.replication,
                     "\": expected off, async or sync"));
  }
  if ((config.replication == "off") != config.mirror.nats_url.empty() &&
      !config.gateway_only) {
    return absl::InvalidArgumentError(
        config.replication == "off"
            ? "--nats-url is for --replication=async or sync, or a "
              "--gateway-only replica"
            : "--replication=async and sync need --nats-url (the NATS "
              "servers of the JetStream cluster)");
  }
  if (config.replication != "off" && config.gateway_only) {
    return absl::InvalidArgumentError(
        "--replication is for the primary, not a --gateway-only replica");
  }
  if (config.replication != "off" || !config.mirror.nats_url.empty()) {
    if (absl::Status mirror = replication::CheckMirrorOptions(config.mirror);
        !mirror.ok()) {
      return mirror;
    }
  }
  if (config.standby && config.replication == "off") {
    return absl::InvalidArgumentError(
        "--standby needs --replication=async or sync and --nats-url (the "
        "JetStream stream it follows)");
  }
  if (config.standby && config.gateway_only) {
    return absl::InvalidArgumentError(
        "--standby and --gateway-only exclude each other");
  }
  if (!config.standby && config.mirror.nats_url.empty() &&
      (!config.primary_grpc.empty() || !config.primary_url.empty())) {
    return absl::InvalidArgumentError(
        "--primary-grpc and --primary-url are for a --standby or a "
        "--gateway-only replica on --nats-url");
  }
  if (!config.etcd_endpoints.empty() && config.replication == "off") {
    return absl::InvalidArgumentError(
        "--etcd-endpoints needs --replication=async or sync: leadership "
        "hands the log over through the JetStream stream");
  }
  if (config.standby && config.webhooks == "here" &&
      config.etcd_endpoints.empty() && config.primary_grpc.empty()) {
    return absl::InvalidArgumentError(
        "--webhooks=here on a --standby needs --etcd-endpoints or "
        "--primary-grpc: its $webhooks appends go to the leader");
  }
  if (config.etcd_endpoints.empty() && !config.leader_key.empty()) {
    return absl::InvalidArgumentError("--leader-key needs --etcd-endpoints");
  }
  if (!config.etcd_endpoints.empty() &&
      (config.leader_ttl_s < 2 ||
       config.leader_margin_ms >= config.leader_ttl_s * 1000)) {
    return absl::InvalidArgumentError(
        "--leader-ttl-s must be at least 2 and --leader-margin-ms below it");
  }
  if (!config.gateway_only && !config.upstream.empty()) {
    return absl::InvalidArgumentError("--upstream is for a --gateway-only replica");
  }
  if (config.gateway_only &&
      config.upstream.empty() == config.mirror.nats_url.empty()) {
    return absl::InvalidArgumentError(
        "--gateway-only needs one of --upstream HOST:PORT (the primary's "
        "gRPC address) or --nats-url (the JetStream stream it mirrors to)");
  }
  if (!config.upstream.empty()) {
    if (absl::StatusOr<HostPort> upstream = SplitAddress(config.upstream);
        !upstream.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--upstream \"", config.upstream,
                       "\": ", upstream.status().message()));
    }
  }
  if (config.tokens_file.empty()) {
    for (const HostPort* address : {&*listen, &*http_listen}) {
      if (config.gateway_only && address == &*listen) continue;
      if (absl::Status status = CheckLoopback(*address); !status.ok()) {
        return status;
      }
    }
  }
  return ListenAddresses{.grpc = *std::move(listen),
                         .http = *std::move(http_listen)};
}

}  // namespace vigil::vigild
