// End-to-end replay throughput of the read side: N events of the
// simulator's Manager/Worker mix are appended to a fresh log, then the three
// domain projections (agents, tasks, metrics) replay the whole log into a
// fresh PostgreSQL database in two ways:
//
//  - shared: one reader (SharedCatchUp) reads and parses the log once and
//    hands each page to the three runners, which write it side by side;
//    the path of `vigil projections rebuild`-style catch-ups;
//  - separate: one runner thread each, each reading the whole log, as
//    vigild's live runners do when they catch up on their own.
//
// After the shared replay the final rows of every table the projections
// write are dumped (COPY ... TO STDOUT, into memory) and loaded with plain
// COPY ... FROM STDIN into fresh, identical tables (same migrations, same
// indexes, same day partitions), one connection and transaction per
// projection's tables, side by side: the physical limit the replay is
// compared with ("raw COPY"). Then the floor (read, parse, checkpoint, no
// writes) and, with --baseline-events M > 0, a naive baseline on the first
// M events: the same folds but one statement per event and table.
//
//   projection_replay [--events N] [--baseline-events M] [--batch B]
//                     [--batch-mb MB] [--pg-url URL] [--shared-only]
// --shared-only stops after the shared replay and the raw COPY (for
// interleaved before/after runs of the write path).
// Without --pg-url it starts a private PostgreSQL 15 cluster (fsync on,
// default settings) in a temporary directory.

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "eventlog/event_log.h"
#include "eventlog/log_cursor.h"
#include "eventlog/options.h"
#include "projections/embedded_postgres.h"
#include "projections/internal/domain_projections.h"
#include "projections/migrations.h"
#include "projections/projection_runner.h"
#include "projections/shared_catch_up.h"
#include "tools/simulator/fill_log.h"
#include "tools/simulator/scenario.h"

namespace vigil {
namespace {

using projections::DomainEvent;
using projections::Projection;

// One statement per event: the same fold, called with batches of one.
class PerEventProjection final : public Projection {
 public:
  explicit PerEventProjection(std::unique_ptr<Projection> inner)
      : inner_(std::move(inner)) {}
  const std::string& name() const override { return inner_->name(); }
  std::vector<projections::TableSpec> tables() const override {
    return inner_->tables();
  }
  void Apply(pqxx::work& tx, const std::string& schema,
             const std::vector<DomainEvent>& events) override {
    std::vector<DomainEvent> one(1);
    for (const DomainEvent& event : events) {
      one[0] = event;
      inner_->Apply(tx, schema, one);
    }
  }

 private:
  std::unique_ptr<Projection> inner_;
};

// Reads, parses and commits checkpoints, writes nothing: the floor set by
// the log, the parser and the transactions themselves.
class NoWrites final : public Projection {
 public:
  const std::string& name() const override { return name_; }
  std::vector<projections::TableSpec> tables() const override { return {}; }
  void Apply(pqxx::work&, const std::string&,
             const std::vector<DomainEvent>&) override {}

 private:
  const std::string name_ = "no_writes";
};

// A batch's (a page's) byte bound, --batch-mb; vigild's default is 16 MiB.
size_t g_batch_bytes = 16 << 20;

void Die(std::string_view what) {
  std::fprintf(stderr, "projection_replay: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::exit(1);
}

// Appends the benchmark's scenario until the log holds `events` events.
void Fill(eventlog::EventLog* log, uint64_t events) {
  auto scenario = simulator::Scenario::Create(
      {.managers = 10, .workers = 90, .seed = 42, .id_prefix = "bench"});
  if (!scenario.ok()) Die(scenario.status().ToString());
  if (absl::Status s = simulator::FillLog(log, scenario->get(), events);
      !s.ok()) {
    Die(s.ToString());
  }
}

std::string FreshDatabase(const std::string& server_url,
                          const std::string& name) {
  pqxx::connection admin(server_url);
  pqxx::nontransaction tx(admin);
  tx.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  tx.exec("CREATE DATABASE " + name);
  // Replace the database name of the URL.
  const size_t slash = server_url.find('/', server_url.find("://") + 3);
  const size_t query = server_url.find('?', slash);
  return server_url.substr(0, slash + 1) + name +
         (query == std::string::npos ? "" : server_url.substr(query));
}

// CPU seconds, a measure the other sessions' load on the machine does not
// inflate as it does wall time: this process's own, and the PostgreSQL
// server's (the postmaster's children that have exited, i.e. the backends
// of finished phases, plus the postmaster itself; not the checkpointer's
// and WAL writer's, which live on). 0 for the server when it is not ours
// (--pg-url).
struct Cpu {
  double client = 0;
  double server = 0;
};

Cpu CpuNow(const std::string& cluster_dir) {
  Cpu cpu;
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  cpu.client = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
               usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  if (cluster_dir.empty()) return cpu;
  // Backends of connections just closed take a moment to exit and be
  // reaped.
  absl::SleepFor(absl::Milliseconds(300));
  long pid = 0;
  std::ifstream(cluster_dir + "/data/postmaster.pid") >> pid;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string field;
  // After "pid (comm)": fields 14-17 are utime, stime, cutime, cstime.
  std::getline(stat, field, ')');
  double ticks = 0;
  for (int i = 3; i <= 17 && stat >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  cpu.server = ticks / sysconf(_SC_CLK_TCK);
  return cpu;
}

// Prints the CPU spent since `since` by a phase of `events` events.
void PrintCpu(const std::string& label, const std::string& cluster_dir,
              const Cpu& since) {
  const Cpu now = CpuNow(cluster_dir);
  std::printf("  %s CPU: client %.2f s, server %.2f s, total %.2f s\n",
              label.c_str(), now.client - since.client,
              now.server - since.server,
              now.client - since.client + now.server - since.server);
}

// Replays positions 1..`upto` with every projection, each on its own
// thread; returns the wall time.
absl::Duration Replay(eventlog::EventLog* log, const std::string& url,
                      std::vector<std::unique_ptr<Projection>> projections,
                      uint64_t upto, size_t batch) {
  auto migrated = projections::ApplyMigrations(url);
  if (!migrated.ok()) Die(migrated.status().ToString());
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  const bool sequential = std::getenv("REPLAY_SEQUENTIAL") != nullptr;
  for (auto& projection : projections) {
    if (sequential) {
      for (std::thread& thread : threads) thread.join();
      threads.clear();
    }
    threads.emplace_back([&, p = projection.get()] {
      projections::RunnerOptions options;
      options.pg_url = url;
      options.max_batch_events = batch;
    options.max_batch_bytes = g_batch_bytes;
      options.max_batch_bytes = g_batch_bytes;
      projections::ProjectionRunner runner(p, log, options);
      const absl::Time begin = absl::Now();
      absl::Status status = runner.CatchUp(upto);
      if (!status.ok()) Die(status.ToString());
      std::printf("  %s: %.2f s\n", p->name().c_str(),
                  absl::ToDoubleSeconds(absl::Now() - begin));
    });
  }
  for (std::thread& thread : threads) thread.join();
  return absl::Now() - start;
}

// Replays positions 1..`upto` with every projection through one shared
// reader; returns the wall time.
absl::Duration ReplayShared(eventlog::EventLog* log, const std::string& url,
                            std::vector<std::unique_ptr<Projection>> projections,
                            uint64_t upto, size_t batch) {
  auto migrated = projections::ApplyMigrations(url);
  if (!migrated.ok()) Die(migrated.status().ToString());
  std::vector<std::unique_ptr<projections::ProjectionRunner>> runners;
  std::vector<projections::ProjectionRunner*> pointers;
  for (auto& projection : projections) {
    projections::RunnerOptions options;
    options.pg_url = url;
    options.max_batch_events = batch;
    runners.push_back(std::make_unique<projections::ProjectionRunner>(
        projection.get(), log, options));
    pointers.push_back(runners.back().get());
  }
  const absl::Time start = absl::Now();
  projections::SharedCatchUp shared(pointers, log,
                                    {.max_batch_events = batch,
                                     .max_batch_bytes = g_batch_bytes});
  if (absl::Status status = shared.CatchUp(upto); !status.ok()) {
    Die(status.ToString());
  }
  return absl::Now() - start;
}

// libpq, for the raw COPY: bytes in and out as they are, no per-field work.
struct Pq {
  explicit Pq(const std::string& url) : conn(PQconnectdb(url.c_str())) {
    if (PQstatus(conn) != CONNECTION_OK) Die(PQerrorMessage(conn));
  }
  ~Pq() { PQfinish(conn); }
  void Exec(const std::string& sql, ExecStatusType expect = PGRES_COMMAND_OK) {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) != expect) {
      Die(absl::StrCat(sql, ": ", PQresultErrorMessage(result)));
    }
    PQclear(result);
  }
  void Finish() {
    PGresult* result = PQgetResult(conn);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      Die(PQresultErrorMessage(result));
    }
    PQclear(result);
    while ((result = PQgetResult(conn)) != nullptr) PQclear(result);
  }
  PGconn* conn;
};

// One table's rows in COPY text format.
struct TableDump {
  std::string table;
  std::string data;
  size_t rows = 0;
};

std::vector<TableDump> DumpTables(const std::string& url,
                                  const std::vector<std::string>& tables) {
  Pq pq(url);
  std::vector<TableDump> dumps;
  for (const std::string& table : tables) {
    TableDump dump{table, {}, 0};
    pq.Exec(absl::StrCat("COPY (SELECT * FROM vigil.", table, ") TO STDOUT"),
            PGRES_COPY_OUT);
    char* buffer = nullptr;
    int n;
    while ((n = PQgetCopyData(pq.conn, &buffer, 0)) > 0) {
      dump.data.append(buffer, n);
      PQfreemem(buffer);
    }
    pq.Finish();
    dump.rows = std::count(dump.data.begin(), dump.data.end(), '\n');
    dumps.push_back(std::move(dump));
  }
  return dumps;
}

// Loads `dumps` with COPY FROM STDIN in one transaction (synchronous_commit
// off, as the runners).
void LoadTables(const std::string& url, const std::vector<TableDump>& dumps) {
  Pq pq(url);
  pq.Exec("SET synchronous_commit = off");
  pq.Exec("BEGIN");
  for (const TableDump& dump : dumps) {
    pq.Exec(absl::StrCat("COPY vigil.", dump.table, " FROM STDIN"),
            PGRES_COPY_IN);
    constexpr size_t kChunk = 1 << 20;
    for (size_t at = 0; at < dump.data.size(); at += kChunk) {
      const size_t n = std::min(kChunk, dump.data.size() - at);
      if (PQputCopyData(pq.conn, dump.data.data() + at,
                        static_cast<int>(n)) != 1) {
        Die(PQerrorMessage(pq.conn));
      }
    }
    if (PQputCopyEnd(pq.conn, nullptr) != 1) Die(PQerrorMessage(pq.conn));
    pq.Finish();
  }
  pq.Exec("COMMIT");
}

// Raw COPY of the final rows of `source` into fresh identical tables (same
// migrations and day partitions) of a new database: one connection and
// transaction per projection's tables, side by side. Returns the wall time
// of the loads, sets the CPU counters at their start and counts the rows.
absl::Duration RawCopy(const std::string& server_url, const std::string& source,
                       const std::vector<std::unique_ptr<Projection>>& shape,
                       const std::string& cluster_dir, Cpu* cpu_at_start,
                       size_t* rows) {
  std::vector<std::vector<TableDump>> groups;
  *rows = 0;
  for (const auto& projection : shape) {
    std::vector<std::string> tables;
    for (const projections::TableSpec& table : projection->tables()) {
      tables.push_back(table.name);
    }
    groups.push_back(DumpTables(source, tables));
    for (const TableDump& dump : groups.back()) *rows += dump.rows;
  }
  const std::string target = FreshDatabase(server_url, "replay_raw_copy");
  auto migrated = projections::ApplyMigrations(target);
  if (!migrated.ok()) Die(migrated.status().ToString());
  {
    // The same day partitions of agent_metrics.
    pqxx::connection from(source);
    pqxx::connection to(target);
    pqxx::work read(from);
    pqxx::work write(to);
    for (const pqxx::row& r : read.exec(
             "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) "
             "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
             "JOIN pg_class p ON p.oid = i.inhparent "
             "WHERE p.relname = 'agent_metrics'")) {
      write.exec(absl::StrCat("CREATE TABLE vigil.", r[0].as<std::string>(),
                              " PARTITION OF vigil.agent_metrics ",
                              r[1].as<std::string>()));
    }
    write.commit();
  }
  *cpu_at_start = CpuNow(cluster_dir);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (const std::vector<TableDump>& group : groups) {
    threads.emplace_back([&target, &group] { LoadTables(target, group); });
  }
  for (std::thread& thread : threads) thread.join();
  return absl::Now() - start;
}

// Prints "<label>: N events in S s = R events/s"; returns R.
double PrintRate(const std::string& label, uint64_t events,
                 absl::Duration took) {
  const double rate = events / absl::ToDoubleSeconds(took);
  std::printf("%s: %llu events in %.2f s = %.0f events/s\n", label.c_str(),
              static_cast<unsigned long long>(events),
              absl::ToDoubleSeconds(took), rate);
  return rate;
}

uint64_t Flag(const std::vector<std::string_view>& args, std::string_view name,
              uint64_t fallback) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) {
      uint64_t value;
      if (!absl::SimpleAtoi(absl::string_view(args[i + 1].data(),
                                              args[i + 1].size()),
                            &value)) {
        Die(absl::StrCat("bad value for ", absl::string_view(name.data(),
                                                             name.size())));
      }
      return value;
    }
  }
  return fallback;
}

// The phases after the raw COPY: separate readers, the log read + parse
// alone, the floor and the per-event baseline.
void OtherPhases(eventlog::EventLog* log, const std::string& server_url,
                 const std::string& cluster_dir, uint64_t head, size_t batch,
                 uint64_t baseline_events, double shared_rate) {
  Cpu cpu = CpuNow(cluster_dir);

  const absl::Duration fast = Replay(
      log, FreshDatabase(server_url, "replay_batched"),
      projections::NewDomainProjections({}), head, batch);
  PrintRate(absl::StrCat("separate readers (one runner thread each, batch ",
                         batch, ")"),
            head, fast);
  PrintCpu("separate readers", cluster_dir, cpu);

  {
    const absl::Time begin = absl::Now();
    uint64_t read = 0;
    absl::Duration parse;
    eventlog::LogCursor cursor(log, 1, {},
                               {.page_events = 500, .end_position = head});
    while (!cursor.AtEnd()) {
      auto page = cursor.Next();
      if (!page.ok() || page->events.empty()) Die("read failed");
      const absl::Time p0 = absl::Now();
      for (const auto& e : page->events) {
        if (!projections::ParseDomainEvent(e).ok()) Die("parse failed");
      }
      parse += absl::Now() - p0;
      read += page->events.size();
    }
    const double total = absl::ToDoubleSeconds(absl::Now() - begin);
    std::printf("log read + parse alone: %.0f events/s (parse %.1f%% of it)\n",
                read / total, 100 * absl::ToDoubleSeconds(parse) / total);
  }
  std::vector<std::unique_ptr<Projection>> floor;
  floor.push_back(std::make_unique<NoWrites>());
  const absl::Duration floor_time =
      Replay(log, FreshDatabase(server_url, "replay_floor"),
             std::move(floor), head, batch);
  std::printf("floor (read + parse + checkpoint, no writes): %.0f events/s\n",
              head / absl::ToDoubleSeconds(floor_time));

  if (baseline_events > 0) {
    const uint64_t baseline_upto = std::min(head, baseline_events);
    std::vector<std::unique_ptr<Projection>> naive;
    for (auto& projection : projections::NewDomainProjections({})) {
      naive.push_back(
          std::make_unique<PerEventProjection>(std::move(projection)));
    }
    const absl::Duration slow =
        Replay(log, FreshDatabase(server_url, "replay_naive"),
               std::move(naive), baseline_upto, batch);
    const double slow_rate = baseline_upto / absl::ToDoubleSeconds(slow);
    std::printf("baseline (one statement per event): %llu events in %.2f s = "
                "%.0f events/s\n",
                static_cast<unsigned long long>(baseline_upto),
                absl::ToDoubleSeconds(slow), slow_rate);
    std::printf("ratio (shared / baseline): %.1fx\n", shared_rate / slow_rate);
  }
}

int Main(const std::vector<std::string_view>& args) {
  const uint64_t events = Flag(args, "--events", 1'000'000);
  const uint64_t baseline_events = Flag(args, "--baseline-events", 0);
  const size_t batch = Flag(args, "--batch", 20000);
  g_batch_bytes = Flag(args, "--batch-mb", 16) << 20;
  std::string server_url;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--pg-url") server_url = std::string(args[i + 1]);
  }

  char dir_template[] = "/tmp/vigil-replay-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  chmod(dir.c_str(), 0711);  // the server may run as `postgres`
  std::unique_ptr<projections::EmbeddedPostgres> postgres;
  if (server_url.empty()) {
    auto started =
        projections::EmbeddedPostgres::Start({.cluster_dir = dir + "/pg"});
    if (!started.ok()) Die(started.status().ToString());
    postgres = *std::move(started);
    server_url = postgres->url();
  }
  auto log = eventlog::EventLog::Open(eventlog::Options(), dir + "/log");
  if (!log.ok()) Die(log.status().ToString());

  const absl::Time fill_start = absl::Now();
  Fill(log->get(), events);
  const uint64_t head = (*log)->HeadPosition();
  std::printf("log: %llu events of the simulator's mix appended in %.1f s\n",
              static_cast<unsigned long long>(head),
              absl::ToDoubleSeconds(absl::Now() - fill_start));

  const std::string cluster_dir = postgres != nullptr ? dir + "/pg" : "";
  const std::string shared_url = FreshDatabase(server_url, "replay_shared");
  Cpu cpu = CpuNow(cluster_dir);
  const absl::Duration shared =
      ReplayShared(log->get(), shared_url,
                   projections::NewDomainProjections({}), head, batch);
  const double shared_rate =
      PrintRate(absl::StrCat("shared reader (batch ", batch, ")"), head, shared);

  PrintCpu("shared reader", cluster_dir, cpu);

  size_t rows = 0;
  Cpu raw_cpu;
  const absl::Duration raw =
      RawCopy(server_url, shared_url, projections::NewDomainProjections({}),
              cluster_dir, &raw_cpu, &rows);
  std::printf("raw COPY of the final %zu rows into identical tables: %.2f s; "
              "replay / raw COPY = %.2fx\n",
              rows, absl::ToDoubleSeconds(raw),
              absl::ToDoubleSeconds(raw) / absl::ToDoubleSeconds(shared));
  PrintCpu("raw COPY", cluster_dir, raw_cpu);

  if (std::find(args.begin(), args.end(), "--shared-only") == args.end()) {
    OtherPhases(log->get(), server_url, cluster_dir, head, batch,
                baseline_events, shared_rate);
  }

  log->reset();
  if (postgres != nullptr) (void)postgres->Stop();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) {
  return vigil::Main(std::vector<std::string_view>(argv + 1, argv + argc));
}
