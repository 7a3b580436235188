// Durable append throughput and latency of the event log, beside the two
// baselines that bound group commit on this disk, measured in the same run:
//   floor:   one synced RocksDB Put per event (no batching at all)
//   ceiling: one synced RocksDB WriteBatch of 64 events (perfect batching,
//            no checks, no hashing)
// and a third, informative one: the ceiling for the log's own keys, one
// synced WriteBatch of 64 events exactly as the log stores them (hashed
// records plus stream-index keys, the log's RocksDB options and families),
// which separates what group commit loses from what the record format costs.
// The log is driven two ways: BM_LogAppend with one blocked thread per
// appender (Append), BM_LogAppendAsync with that many appends kept in flight
// by callbacks (AppendAsync, as vigild's gRPC and HTTP handlers use it).
// Every append carries `events` events of 256 B of JSON data. The log lives
// under $VIGIL_BENCH_DIR (default /tmp), which must be on a real disk: the
// figures are about fsync.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "eventlog/event_log.h"
#include "eventlog/internal/codec.h"
#include "eventlog/internal/rocks_db.h"
#include "eventlog/internal/rocks_options.h"
#include "eventlog/internal/uuid.h"

namespace vigil::eventlog {
namespace {

constexpr size_t kEventBytes = 256;

std::string MakeDir(const char* name) {
  const char* base = std::getenv("VIGIL_BENCH_DIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/" + name + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

// A JSON object of exactly kEventBytes bytes.
std::string EventJson() {
  const std::string head = R"({"agent_id":"worker-7","note":")";
  return head + std::string(kEventBytes - head.size() - 2, 'x') + "\"}";
}

struct SharedLog {
  std::string dir = MakeDir("vigil-bench-log");
  std::unique_ptr<EventLog> log = *EventLog::Open(Options{}, dir);
  ~SharedLog() {
    log.reset();
    std::filesystem::remove_all(dir);
  }
};

SharedLog& Log() {
  static SharedLog* shared = new SharedLog();
  return *shared;
}

// Latencies of thread 0, reported as its p50/p99 (every thread runs the
// same loop, so one thread's distribution stands for all of them).
void ReportLatency(benchmark::State& state, std::vector<double>& micros) {
  if (state.thread_index() != 0 || micros.empty()) return;
  std::sort(micros.begin(), micros.end());
  state.counters["p50_us"] = micros[micros.size() / 2];
  state.counters["p99_us"] = micros[micros.size() * 99 / 100];
}

void BM_LogAppend(benchmark::State& state) {
  const int events = static_cast<int>(state.range(0));
  EventLog& log = *Log().log;
  AppendRequest request;
  request.stream = "bench-" + std::to_string(state.thread_index());
  for (int i = 0; i < events; ++i) {
    request.events.push_back(EventData{.type = "TaskProgress", .data = EventJson()});
  }
  std::vector<double> micros;
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    auto result = log.Append(request);
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * events);
  ReportLatency(state, micros);
}
BENCHMARK(BM_LogAppend)
    ->ArgName("events")
    ->Arg(1)->Arg(10)->Arg(100)
    ->Threads(1)->Threads(8)->Threads(64)
    ->UseRealTime();

// The same appends without a thread per appender: `appenders` appends are
// kept in flight through AppendAsync, each completion issuing that
// appender's next append, as vigild's gRPC handlers drive the log. One
// iteration is kAppendsPerIteration appends; latency is from issue to
// completion, over every append.
constexpr int kAppendsPerIteration = 4096;

class AsyncAppenders {
 public:
  AsyncAppenders(EventLog& log, int appenders, int events)
      : log_(log), requests_(appenders) {
    for (int a = 0; a < appenders; ++a) {
      requests_[a].stream = "async-" + std::to_string(events) + "-" + std::to_string(a);
      for (int i = 0; i < events; ++i) {
        requests_[a].events.push_back(
            EventData{.type = "TaskProgress", .data = EventJson()});
      }
    }
  }

  // Runs `count` appends with every appender in flight; returns false on
  // the first failed append.
  bool Run(int count, std::vector<double>& micros) {
    remaining_to_issue_ = count;
    outstanding_ = 0;
    micros_ = &micros;
    for (size_t a = 0; a < requests_.size(); ++a) Issue(a);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](AsyncAppenders* self) { return self->outstanding_ == 0; }, this));
    return failed_.empty();
  }

  const std::string& failure() const { return failed_; }

 private:
  void Issue(size_t appender) {
    {
      absl::MutexLock lock(&mu_);
      if (remaining_to_issue_ == 0 || !failed_.empty()) return;
      --remaining_to_issue_;
      ++outstanding_;
    }
    const absl::Time start = absl::Now();
    log_.AppendAsync(requests_[appender], [this, appender, start](
                                              absl::StatusOr<AppendResult> r) {
      const double us = absl::ToDoubleMicroseconds(absl::Now() - start);
      {
        absl::MutexLock lock(&mu_);
        micros_->push_back(us);
        if (!r.ok() && failed_.empty()) failed_ = r.status().ToString();
      }
      Issue(appender);
      absl::MutexLock lock(&mu_);
      --outstanding_;
    });
  }

  EventLog& log_;
  std::vector<AppendRequest> requests_;
  absl::Mutex mu_;
  int remaining_to_issue_ ABSL_GUARDED_BY(mu_) = 0;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<double>* micros_ = nullptr;
  std::string failed_ ABSL_GUARDED_BY(mu_);
};

void BM_LogAppendAsync(benchmark::State& state) {
  AsyncAppenders appenders(*Log().log, static_cast<int>(state.range(0)),
                           static_cast<int>(state.range(1)));
  std::vector<double> micros;
  for (auto _ : state) {
    if (!appenders.Run(kAppendsPerIteration, micros)) {
      state.SkipWithError(appenders.failure().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kAppendsPerIteration *
                          state.range(1));
  ReportLatency(state, micros);
}
BENCHMARK(BM_LogAppendAsync)
    ->ArgNames({"appenders", "events"})
    ->ArgsProduct({{1, 8, 64}, {1, 10, 100}})
    ->UseRealTime();

struct RawDb {
  std::string dir = MakeDir("vigil-bench-raw");
  std::unique_ptr<rocksdb::DB> db;
  RawDb() {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    if (!rocksdb::DB::Open(options, dir, &raw).ok()) std::abort();
    db.reset(raw);
  }
  ~RawDb() {
    db.reset();
    std::filesystem::remove_all(dir);
  }
};

// Floor: one fsync per event.
void BM_RocksSyncPutPerEvent(benchmark::State& state) {
  RawDb raw;
  rocksdb::WriteOptions sync;
  sync.sync = true;
  const std::string value = EventJson();
  uint64_t key = 0;
  std::vector<double> micros;
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    raw.db->Put(sync, std::to_string(++key), value).PermitUncheckedError();
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  state.SetItemsProcessed(state.iterations());
  ReportLatency(state, micros);
}
BENCHMARK(BM_RocksSyncPutPerEvent)->UseRealTime();

// Ceiling: 64 events per fsync, nothing else.
void BM_RocksSyncBatch64(benchmark::State& state) {
  RawDb raw;
  rocksdb::WriteOptions sync;
  sync.sync = true;
  const std::string value = EventJson();
  uint64_t key = 0;
  std::vector<double> micros;
  for (auto _ : state) {
    rocksdb::WriteBatch batch;
    for (int i = 0; i < 64; ++i) batch.Put(std::to_string(++key), value);
    const absl::Time start = absl::Now();
    raw.db->Write(sync, &batch).PermitUncheckedError();
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  state.SetItemsProcessed(state.iterations() * 64);
  ReportLatency(state, micros);
}
BENCHMARK(BM_RocksSyncBatch64)->UseRealTime();

// The ceiling for the log's own keys: 64 single-event appends of 64 streams
// as one perfect group, with the log's record encoding, hash chain, stream
// index and RocksDB options, and nothing else (no queue, no checks, no
// callers to answer).
void BM_RocksSyncBatch64LogKeys(benchmark::State& state) {
  const std::string dir = MakeDir("vigil-bench-logkeys");
  std::unique_ptr<internal::RocksDb> db;
  if (!internal::RocksDb::Open(internal::ToRocksOptions(Options{}), dir, &db)
           .ok()) {
    std::abort();
  }
  rocksdb::WriteOptions sync;
  sync.sync = true;
  const EventData event{.type = "TaskProgress", .data = EventJson()};
  std::vector<std::string> streams;
  for (int i = 0; i < 64; ++i) {
    streams.push_back("async-1-" + std::to_string(i));
  }
  std::vector<uint64_t> revisions(64, 0);
  uint64_t position = 0;
  std::string hash(32, '\0');
  std::vector<double> micros;
  for (auto _ : state) {
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    rocksdb::WriteBatch batch;
    std::vector<std::pair<std::string, std::string>> index;
    for (int i = 0; i < 64; ++i) {
      std::string record = internal::PrepareRecord(
          streams[i], internal::NewUuidV7(now_us), "application/json", event);
      internal::CompleteRecord(++position, revisions[i], now_us, &record,
                               &hash);
      batch.Put(db->records(), internal::RecordKey(position), record);
      index.emplace_back(internal::RevisionKey(streams[i], revisions[i]++),
                         internal::EncodeRevisionRange(position, 1));
    }
    std::sort(index.begin(), index.end());
    for (const auto& [key, value] : index) batch.Put(db->index(), key, value);
    const absl::Time start = absl::Now();
    db->db()->Write(sync, &batch).PermitUncheckedError();
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  state.SetItemsProcessed(state.iterations() * 64);
  ReportLatency(state, micros);
  db.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RocksSyncBatch64LogKeys)->UseRealTime();

}  // namespace
}  // namespace vigil::eventlog

BENCHMARK_MAIN();
