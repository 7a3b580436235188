// The process the crash test kills. Appends from many threads to its own
// streams ("crash-<thread>"), each append checked with the exact expected
// revision, and prints one line per acknowledgement:
//   ack <stream> <first_position> <last_position> <last_revision>
// The event data is {"stream":..., "revision":...} so the parent can check
// what is stored at every acknowledged position.
// Usage: eventlog_crash_child DIR THREADS

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "eventlog/event_log.h"

using vigil::eventlog::AppendRequest;
using vigil::eventlog::EventData;
using vigil::eventlog::EventLog;
using vigil::eventlog::ExpectedRevision;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR THREADS\n", argv[0]);
    return 64;
  }
  auto log = EventLog::Open(vigil::eventlog::Options{}, argv[1]);
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", log.status().ToString().c_str());
    return 1;
  }
  absl::Mutex out_mu;
  std::printf("ready\n");
  std::fflush(stdout);
  const int threads = std::atoi(argv[2]);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::string stream = "crash-" + std::to_string(t);
      auto info = (*log)->GetStream(stream);
      ExpectedRevision expected = info.ok()
                                      ? ExpectedRevision::Exact(info->last_revision)
                                      : ExpectedRevision::NoStream();
      uint64_t next_revision = info.ok() ? info->last_revision + 1 : 0;
      for (int i = 0;; ++i) {
        AppendRequest request{.stream = stream, .expected_revision = expected};
        const int count = 1 + (i + t) % 3;
        for (int e = 0; e < count; ++e) {
          request.events.push_back(EventData{
              .type = "CrashTest",
              .data = "{\"stream\":\"" + stream + "\",\"revision\":" +
                      std::to_string(next_revision + e) + "}"});
        }
        auto result = (*log)->Append(request);
        if (!result.ok()) {
          std::fprintf(stderr, "append: %s\n", result.status().ToString().c_str());
          std::_Exit(1);
        }
        next_revision = result->next_expected_revision + 1;
        expected = ExpectedRevision::Exact(result->next_expected_revision);
        absl::MutexLock lock(&out_mu);
        std::printf("ack %s %llu %llu %llu\n", stream.c_str(),
                    static_cast<unsigned long long>(result->first_position),
                    static_cast<unsigned long long>(result->last_position),
                    static_cast<unsigned long long>(result->next_expected_revision));
        std::fflush(stdout);
      }
    });
  }
  for (auto& worker : workers) worker.join();
}
