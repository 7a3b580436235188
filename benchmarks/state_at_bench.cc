// Time travel latency (issue 7): state-at at random positions of a log of
// the simulator's mix, with and without the fold snapshots. Not a Google
// Benchmark: it reports percentiles of many single calls.
//
//   build/benchmarks/state_at_bench [--events N] [--dir DIR]
//       [--interval N] [--samples N] [--cold-samples N] [--cache-mb N]
//       [--only agent|task|page|drag|whole]
//
// --only measures one row (with snapshots), e.g. to profile it alone.
// The page rows take --samples samples as the agent and task rows do (a
// p99 of 100 samples would be their maximum), the whole state a twentieth.
// DIR keeps the log between runs (it is filled only up to N events once);
// the snapshots are written by the run, after the cold measurements.

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "eventlog/event_log.h"
#include "projections/state_at.h"
#include "projections/state_json.h"
#include "tools/simulator/fill_log.h"
#include "tools/simulator/scenario.h"

namespace vigil {
namespace {

void Die(const std::string& what) {
  std::fprintf(stderr, "state_at_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Flags {
  uint64_t events = 1'000'000;
  std::string dir = "/tmp/vigil-state-at-bench";
  uint64_t interval = projections::TimeTravelOptions{}.snapshot_interval;
  int samples = 2000;
  int cold_samples = 10;
  uint64_t cache_mb = 64;  // the log's block cache
  std::string only;        // empty: every row
};

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view name = argv[i];
    const std::string value = argv[i + 1];
    bool ok = true;
    if (name == "--events") {
      ok = absl::SimpleAtoi(value, &flags.events);
    } else if (name == "--dir") {
      flags.dir = value;
    } else if (name == "--interval") {
      ok = absl::SimpleAtoi(value, &flags.interval);
    } else if (name == "--samples") {
      ok = absl::SimpleAtoi(value, &flags.samples);
    } else if (name == "--cache-mb") {
      ok = absl::SimpleAtoi(value, &flags.cache_mb);
    } else if (name == "--only") {
      flags.only = value;
      ok = value == "agent" || value == "task" || value == "page" ||
           value == "drag" || value == "whole";
    } else if (name == "--cold-samples") {
      ok = absl::SimpleAtoi(value, &flags.cold_samples);
    } else {
      ok = false;
    }
    if (!ok) Die(absl::StrCat("bad flag ", std::string(name), " ", value));
  }
  return flags;
}

double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Runs `call` at `samples` random positions in [1, head] (with `step`:
// from a random one on, `step` apart, wrapping at the head, as a drag of
// the scrubber asks); prints wall p50/p99/max and thread-CPU p50/p99 in
// milliseconds (the machines are shared: CPU time is what the call
// costs, wall time what a caller saw). One call at the middle of the log
// first, not timed: a server answering the scrubber has been running, and
// a fresh process's first call (block cache empty, first allocations) would
// otherwise be the p99 of a row of 100 samples.
void Measure(std::string_view what, uint64_t head, int samples,
             const std::function<void(uint64_t)>& call, uint64_t step = 0) {
  if (samples <= 0) return;  // --cold-samples 0, or --only another row
  std::mt19937_64 random(17);
  std::vector<double> ms;
  std::vector<double> cpu;
  const uint64_t start = random() % head;
  call(1 + head / 2);  // warm-up, not timed
  for (int i = 0; i < samples; ++i) {
    const uint64_t position =
        1 + (step == 0 ? random() % head : (start + i * step) % head);
    const absl::Time start = absl::Now();
    const double cpu_start = ThreadCpuMs();
    call(position);
    cpu.push_back(ThreadCpuMs() - cpu_start);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  auto pct = [](const std::vector<double>& v, double p) {
    return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
  };
  std::printf("| %-30s | %6d | %9.3f | %9.3f | %9.3f | %9.3f | %9.3f |\n",
              std::string(what).c_str(), samples, pct(ms, 0.50),
              pct(ms, 0.99), ms.back(), pct(cpu, 0.50), pct(cpu, 0.99));
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  eventlog::Options options;
  options.block_cache_bytes = flags.cache_mb << 20;
  auto log = eventlog::EventLog::Open(options, flags.dir);
  if (!log.ok()) Die(log.status().ToString());
  if ((*log)->HeadPosition() < flags.events) {
    auto scenario = simulator::Scenario::Create(
        {.managers = 10, .workers = 90, .seed = 42, .id_prefix = "bench"});
    if (!scenario.ok()) Die(scenario.status().ToString());
    const absl::Time start = absl::Now();
    absl::Status filled =
        simulator::FillLog(log->get(), scenario->get(), flags.events);
    if (!filled.ok()) Die(filled.ToString());
    std::printf("filled the log to %llu events in %.1f s\n",
                static_cast<unsigned long long>((*log)->HeadPosition()),
                absl::ToDoubleSeconds(absl::Now() - start));
  }
  const uint64_t head = flags.events;
  projections::TimeTravel time_travel(log->get(),
                                      {.snapshot_interval = flags.interval});
  auto ids = [&](uint64_t position, bool agent) {
    // Some entity that exists at the head: an agent, or a task created
    // before `position` (the latest one, found cheaply by the bench).
    (void)position;
    return agent ? std::string("bench-s42-w") + std::to_string(position % 90)
                 : std::string();
  };
  const bool have_snapshots =
      *(*log)->FindSnapshot(projections::kFoldSnapshotName, head) != 0;
  std::printf(
      "| state-at, %llu events, interval %llu | samples | wall p50 ms | "
      "wall p99 ms | wall max ms | cpu p50 ms | cpu p99 ms |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n",
      static_cast<unsigned long long>(head),
      static_cast<unsigned long long>(flags.interval));
  if (!have_snapshots) {
    Measure("whole system, no snapshots", head, flags.cold_samples,
            [&](uint64_t p) {
              if (!time_travel.StateAt(p).ok()) Die("StateAt failed");
            });
    Measure("one agent, no snapshots", head, flags.cold_samples,
            [&](uint64_t p) {
              if (!time_travel.AgentAt(p, ids(p, true)).ok()) {
                Die("AgentAt failed");
              }
            });
    const absl::Time start = absl::Now();
    absl::Status built = time_travel.CatchUpSnapshots();
    if (!built.ok()) Die(built.ToString());
    std::printf("(snapshots written in %.1f s)\n",
                absl::ToDoubleSeconds(absl::Now() - start));
  }
  // Task ids at random positions: the simulator numbers tasks t0, t1, ...
  // in creation order; take the tasks of the state at the head.
  auto at_head = time_travel.StateAt(head);
  if (!at_head.ok()) Die(at_head.status().ToString());
  std::vector<std::pair<uint64_t, std::string>> tasks;
  for (const auto& [id, row] : at_head->tasks.rows()) {
    tasks.emplace_back(row.first_position, id);
  }
  std::sort(tasks.begin(), tasks.end());
  std::printf(
      "(at the head: %zu agents, %zu tasks, %zu coordination pairs, %zu "
      "message pairs, %zu agent-minutes)\n",
      at_head->agents.rows().size(), tasks.size(),
      at_head->tasks.pairs().size(), at_head->tasks.messages().size(),
      at_head->metrics.agent_minutes().size());
  // Samples of row `row`: `samples`, or none when --only names another.
  auto samples_of = [&](std::string_view row, int samples) {
    return flags.only.empty() || flags.only == row ? samples : 0;
  };
  Measure("one agent, with snapshots", head, samples_of("agent", flags.samples),
          [&](uint64_t p) {
    if (!time_travel.AgentAt(p, ids(p, true)).ok()) Die("AgentAt failed");
  });
  Measure("one task, with snapshots", head, samples_of("task", flags.samples),
          [&](uint64_t p) {
    // The last task created at or before p.
    auto it = std::upper_bound(tasks.begin(), tasks.end(),
                               std::make_pair(p, std::string("\xff")));
    const std::string id = it == tasks.begin() ? "none" : std::prev(it)->second;
    if (!time_travel.TaskAt(p, id).ok()) Die("TaskAt failed");
  });
  // What the dashboard's scrubber asks for (GET /v1/state?at=P&limit=4000):
  // the page and its JSON body; at random positions, then as a drag asks
  // (a scrubber 1,000 pixels wide over 1M events: 1,000 events a pixel).
  auto page = [&](uint64_t p) {
    projections::ReplayStats stats;
    auto page = time_travel.StatePageAt(p, 4000, &stats);
    if (!page.ok()) Die(page.status().ToString());
    if (projections::StatePageJson(*page, stats, 4000).empty()) {
      Die("no JSON");
    }
  };
  Measure("scrubber's page (limit 4,000, with its JSON), with snapshots",
          head, samples_of("page", flags.samples), page);
  Measure("scrubber's page, a drag (positions 1,013 apart)", head,
          samples_of("drag", flags.samples), page,
          /*step=*/1'013);
  Measure("whole system, with snapshots", head,
          samples_of("whole", std::max(20, flags.samples / 20)),
          [&](uint64_t p) {
            if (!time_travel.StateAt(p).ok()) Die("StateAt failed");
          });
  return 0;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) { return vigil::Main(argc, argv); }
