// PostgreSQL's bulk path as a peer of Vigil's bulk appends
// (benchmarks/peers/appends, issue 21): --clients connections, each
// committing one `COPY events (stream, revision, data) FROM STDIN` of
// --events rows per transaction for --duration seconds, into the table the
// script creates (a unique index on (stream, revision), 256-byte data).
// Durability is the server's: the script runs PostgreSQL with fsync and
// synchronous_commit on, so each COPY is flushed to the WAL before its
// commit returns, as each Vigil append is fsynced before it is answered.
//
//   pg_copy_bench --url URL [--clients 32] [--events 100] [--size 256]
//                 [--duration 8] [--prefix copy]
//
// Client c writes stream "<prefix>-c" from revision 0: give each run on
// the same table its own prefix.
//
// Prints one JSON line in `vigil bench`'s shape: calls (transactions) and
// events (rows) per second, latency per transaction p50/p99 in
// microseconds. Exits 1 when a transaction failed.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <pqxx/pqxx>
#include <pqxx/stream_to>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace {

struct Flags {
  std::string url;
  int clients = 32;
  int events = 100;
  int size = 256;
  int duration_s = 8;
  std::string prefix = "copy";
};

int Usage(const std::string& problem) {
  std::fprintf(stderr,
               "pg_copy_bench: %s\nusage: pg_copy_bench --url URL "
               "[--clients N] [--events E] [--size B] [--duration S] "
               "[--prefix P]\n",
               problem.c_str());
  return 64;
}

bool ParseInt(const std::string& text, int* out) {
  return absl::SimpleAtoi(text, out) && *out > 0;
}

struct ClientResult {
  std::vector<uint32_t> latencies_us;
  uint64_t rows = 0;
  std::string error;
};

// Commits COPYs of `flags.events` rows to stream "<prefix>-<client>" until
// `deadline`.
void RunClient(const Flags& flags, int client,
               std::chrono::steady_clock::time_point deadline,
               ClientResult* result) {
  try {
    pqxx::connection connection(flags.url);
    const std::string stream = absl::StrCat(flags.prefix, "-", client);
    const std::string data(static_cast<size_t>(flags.size), 'x');
    int64_t revision = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto start = std::chrono::steady_clock::now();
      pqxx::work tx(connection);
      pqxx::stream_to copy(tx, "events",
                           std::vector<std::string>{"stream", "revision",
                                                    "data"});
      for (int i = 0; i < flags.events; ++i) {
        copy << std::make_tuple(stream, revision++, data);
      }
      copy.complete();
      tx.commit();
      const auto took = std::chrono::steady_clock::now() - start;
      result->latencies_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(took)
              .count()));
      result->rows += static_cast<uint64_t>(flags.events);
    }
  } catch (const std::exception& e) {
    result->error = e.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(absl::StrCat(arg, " needs a value"));
    const std::string value = argv[++i];
    bool ok = true;
    if (arg == "--url") {
      flags.url = value;
    } else if (arg == "--clients") {
      ok = ParseInt(value, &flags.clients);
    } else if (arg == "--events") {
      ok = ParseInt(value, &flags.events);
    } else if (arg == "--size") {
      ok = ParseInt(value, &flags.size);
    } else if (arg == "--prefix") {
      flags.prefix = value;
    } else if (arg == "--duration") {
      ok = ParseInt(value, &flags.duration_s);
    } else {
      return Usage(absl::StrCat("unknown flag ", arg));
    }
    if (!ok) return Usage(absl::StrCat(arg, " needs a positive integer"));
  }
  if (flags.url.empty()) return Usage("--url is required");

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(flags.duration_s);
  std::vector<ClientResult> results(static_cast<size_t>(flags.clients));
  std::vector<std::thread> threads;
  for (int c = 0; c < flags.clients; ++c) {
    threads.emplace_back(RunClient, std::cref(flags), c, deadline,
                         &results[static_cast<size_t>(c)]);
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  std::vector<uint32_t> latencies;
  uint64_t rows = 0;
  for (const ClientResult& r : results) {
    if (!r.error.empty()) {
      std::fprintf(stderr, "pg_copy_bench: %s\n", r.error.c_str());
      return 1;
    }
    latencies.insert(latencies.end(), r.latencies_us.begin(),
                     r.latencies_us.end());
    rows += r.rows;
  }
  if (latencies.empty()) {
    std::fprintf(stderr, "pg_copy_bench: no transaction completed\n");
    return 1;
  }
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<size_t>(q * latencies.size()))];
  };
  std::printf(
      "{\"what\":\"pg-copy\",\"clients\":%d,\"events_per_call\":%d,"
      "\"calls_per_s\":%.0f,\"events_per_s\":%.0f,\"p50_us\":%u,"
      "\"p99_us\":%u}\n",
      flags.clients, flags.events, latencies.size() / seconds, rows / seconds,
      at(0.50), at(0.99));
  return 0;
}
