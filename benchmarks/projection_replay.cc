// End-to-end replay throughput of the read side: N events of the
// simulator's Manager/Worker mix are appended to a fresh log, then the three
// domain projections (agents, tasks, metrics; one runner thread each, as in
// vigild) replay the whole log into a fresh PostgreSQL database. The same
// run then measures a naive baseline on the first M events: the same folds
// but one statement per event and table (a row SELECT and a single-row
// upsert each), inside the same batch transactions, so the difference is
// the multi-row writes alone.
//
//   projection_replay [--events N] [--baseline-events M] [--batch B]
//                     [--pg-url URL]
// Without --pg-url it starts a private PostgreSQL 15 cluster (fsync on,
// default settings) in a temporary directory.

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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

int Main(const std::vector<std::string_view>& args) {
  const uint64_t events = Flag(args, "--events", 1'000'000);
  const uint64_t baseline_events = Flag(args, "--baseline-events", 50'000);
  const size_t batch = Flag(args, "--batch", 20000);
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

  const absl::Duration fast = Replay(
      log->get(), FreshDatabase(server_url, "replay_batched"),
      projections::NewDomainProjections({}), head, batch);
  const double fast_rate = head / absl::ToDoubleSeconds(fast);
  std::printf("batched (multi-row, batch %zu): %llu events in %.2f s = "
              "%.0f events/s\n",
              batch, static_cast<unsigned long long>(head),
              absl::ToDoubleSeconds(fast), fast_rate);

  {
    const absl::Time begin = absl::Now();
    uint64_t read = 0;
    absl::Duration parse;
    eventlog::LogCursor cursor(log->get(), 1, {},
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
      Replay(log->get(), FreshDatabase(server_url, "replay_floor"),
             std::move(floor), head, batch);
  std::printf("floor (read + parse + checkpoint, no writes): %.0f events/s\n",
              head / absl::ToDoubleSeconds(floor_time));

  const uint64_t baseline_upto = std::min(head, baseline_events);
  std::vector<std::unique_ptr<Projection>> naive;
  for (auto& projection : projections::NewDomainProjections({})) {
    naive.push_back(std::make_unique<PerEventProjection>(std::move(projection)));
  }
  const absl::Duration slow =
      Replay(log->get(), FreshDatabase(server_url, "replay_naive"),
             std::move(naive), baseline_upto, batch);
  const double slow_rate = baseline_upto / absl::ToDoubleSeconds(slow);
  std::printf("baseline (one statement per event): %llu events in %.2f s = "
              "%.0f events/s\n",
              static_cast<unsigned long long>(baseline_upto),
              absl::ToDoubleSeconds(slow), slow_rate);
  std::printf("ratio: %.1fx\n", fast_rate / slow_rate);

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
