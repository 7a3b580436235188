#include "tools/vigil/bench_live.h"

#include <utility>  // before Asio: Boost 1.74 needs std::exchange declared

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "tools/vigil/remote.h"
#include "tools/vigild/file_limit.h"

namespace vigil::cli {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// One client: connects, then records (position, receipt time) of every
// event frame. Runs on the bench's io_context thread.
class LiveClient : public std::enable_shared_from_this<LiveClient> {
 public:
  LiveClient(net::io_context& ioc, std::atomic<int>* ready,
             std::atomic<uint64_t>* all_frames)
      : ws_(ioc), ready_(ready), all_frames_(all_frames) {}

  void Start(const tcp::endpoint& endpoint, const std::string& host) {
    host_ = host;
    beast::get_lowest_layer(ws_).async_connect(
        endpoint, [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->Fail(ec);
          self->ws_.async_handshake(
              self->host_, "/v1/live", [self](beast::error_code ec) {
                if (ec) return self->Fail(ec);
                self->Read();
              });
        });
  }

  void Close() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
  }

  std::vector<std::pair<uint64_t, absl::Time>> received;
  bool failed = false;
  bool closed = false;  // the connection ended (or never opened)
  uint64_t frames = 0;

 private:
  void Fail(beast::error_code) {
    closed = true;
    if (!caught_up_) failed = true;
    if (!caught_up_) ready_->fetch_add(1);
    caught_up_ = true;
  }

  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec,
                                                        size_t) {
      if (ec) return self->Fail(ec);
      self->OnFrame();
      self->Read();
    });
  }

  void OnFrame() {
    const absl::Time now = absl::Now();
    ++frames;
    all_frames_->fetch_add(1, std::memory_order_relaxed);
    const auto data = buffer_.cdata();
    std::string_view text(static_cast<const char*>(data.data()), data.size());
    const size_t at = text.find("\"position\":");
    if (at != std::string_view::npos) {
      uint64_t position = 0;
      const char* begin = text.data() + at + 11;
      std::from_chars(begin, text.data() + text.size(), position);
      if (text.rfind("{\"kind\":\"event\"", 0) == 0) {
        received.emplace_back(position, now);
      } else if (!caught_up_ && text.find("caught_up") != text.npos) {
        caught_up_ = true;
        ready_->fetch_add(1);
      }
    }
    buffer_.consume(buffer_.size());
  }

  websocket::stream<tcp::socket> ws_;
  std::atomic<int>* ready_;
  std::atomic<uint64_t>* all_frames_;  // of every client
  std::string host_;
  beast::flat_buffer buffer_;
  bool caught_up_ = false;
};

// VmRSS of `pid` in bytes; 0 when unknown.
uint64_t RssBytes(uint64_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoull(line.substr(6)) * 1024;
    }
  }
  return 0;
}

// The CPU time `pid` has used (user + system, all threads), in
// microseconds, from /proc/<pid>/stat; -1 when unknown.
double ProcessCpuMicros(uint64_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)),
                   std::istreambuf_iterator<char>());
  // Field 2 (comm) may hold spaces: count fields from its closing ')'.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  uint64_t utime = 0;
  uint64_t stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  if (!fields) return -1;
  return static_cast<double>(utime + stime) * 1e6 /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// This process's CPU time (user + system, all threads) in microseconds.
double OwnCpuMicros() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto micros = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  return micros(usage.ru_utime) + micros(usage.ru_stime);
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1,
                         static_cast<size_t>(p * sorted.size()))];
}

}  // namespace

int RunBenchLive(const FlagValues& flags) {
  absl::StatusOr<uint64_t> connections = flags.GetUint64("connections", 100);
  absl::StatusOr<uint64_t> rate = flags.GetUint64("rate", 100);
  absl::StatusOr<uint64_t> seconds = flags.GetUint64("duration", 10);
  absl::StatusOr<uint64_t> size = flags.GetUint64("size", 256);
  absl::StatusOr<uint64_t> pid = flags.GetUint64("pid", 0);
  absl::StatusOr<uint64_t> idle_seconds = flags.GetUint64("idle-seconds", 0);
  for (const auto* value :
       {&connections, &rate, &seconds, &size, &pid, &idle_seconds}) {
    if (!value->ok()) return Fail("bench live", value->status());
  }
  if (*connections == 0 || *connections > 100000 || *rate == 0 ||
      *rate > 100000 || *seconds == 0 || *size < 16 || *size > (1 << 20)) {
    return Fail("bench live",
                absl::InvalidArgumentError(
                    "--connections 1..100000, --rate 1..100000, "
                    "--duration >= 1, --size 16..1048576"));
  }
  std::string http(flags.Has("http") ? flags.Get("http") : "127.0.0.1:7601");
  const size_t colon = http.rfind(':');
  beast::error_code ec;
  const net::ip::address address =
      net::ip::make_address(http.substr(0, colon), ec);
  if (colon == std::string::npos || ec) {
    return Fail("bench live", absl::InvalidArgumentError(
                                  "--http must be IP:PORT, not " + http));
  }
  // One descriptor per connection: as vigild does (file_limit.h).
  absl::StatusOr<uint64_t> file_limit = vigild::RaiseFileLimit();
  if (!file_limit.ok()) return Fail("bench live", file_limit.status());
  if (*file_limit < *connections + 64) {
    return Fail("bench live",
                absl::ResourceExhaustedError(absl::StrCat(
                    "--connections ", *connections, " needs more file "
                    "descriptors than RLIMIT_NOFILE allows (", *file_limit,
                    "); raise the hard limit (ulimit -Hn)")));
  }
  const tcp::endpoint endpoint(
      address, static_cast<uint16_t>(std::stoi(http.substr(colon + 1))));

  net::io_context ioc;
  std::atomic<int> ready{0};
  std::atomic<uint64_t> all_frames{0};
  std::vector<std::shared_ptr<LiveClient>> clients;
  std::thread io([&ioc] {
    auto guard = net::make_work_guard(ioc);
    ioc.run();
  });
  // In waves of kWave handshakes, under the HTTP server's bound on
  // connections not yet upgraded (max_connections, 1,024).
  constexpr uint64_t kWave = 256;
  const absl::Time connect_deadline = absl::Now() + absl::Seconds(120);
  for (uint64_t i = 0; i < *connections; ++i) {
    clients.push_back(std::make_shared<LiveClient>(ioc, &ready, &all_frames));
    net::post(ioc, [client = clients.back(), &endpoint, &http] {
      client->Start(endpoint, http);
    });
    if ((i + 1) % kWave == 0 || i + 1 == *connections) {
      while (ready.load() < static_cast<int>(i + 1) &&
             absl::Now() < connect_deadline) {
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
  }
  const uint64_t rss_idle = *pid > 0 ? RssBytes(*pid) : 0;
  // Silent clients for --idle-seconds: the server's keep-alive pings (after
  // half its idle timeout, 30 s by default) are answered by Beast's read
  // pending in every client, as a browser's would be.
  uint64_t rss_after_idle = 0;
  uint64_t closed_while_idle = 0;
  if (*idle_seconds > 0) {
    absl::SleepFor(absl::Seconds(static_cast<double>(*idle_seconds)));
    rss_after_idle = *pid > 0 ? RssBytes(*pid) : 0;
    absl::Notification counted;
    net::post(ioc, [&] {
      for (const auto& client : clients) {
        if (client->closed && !client->failed) ++closed_while_idle;
      }
      counted.Notify();
    });
    counted.WaitForNotification();
  }

  // Appends on a fixed schedule from 4 threads, one event per call.
  absl::Mutex mu;
  absl::flat_hash_map<uint64_t, absl::Time> acked;
  // When each acknowledged append was due on the schedule: a server that
  // answers appends late (one that writes every frame before it answers)
  // shows its lateness here, not in the latency from the acknowledgement.
  absl::flat_hash_map<uint64_t, absl::Time> due;
  std::atomic<uint64_t> errors{0};
  const std::string data =
      absl::StrCat("{\"pad\":\"", std::string(*size, 'x'), "\"}");
  // CPU from here to the end of the last deliveries, per frame received
  // meanwhile: the server's (with --pid) and this client's own, so a run
  // can tell the client's limit from the server's.
  const uint64_t frames_before = all_frames.load();
  const double server_cpu_before = *pid > 0 ? ProcessCpuMicros(*pid) : -1;
  const double client_cpu_before = OwnCpuMicros();
  const absl::Time begin = absl::Now();
  const absl::Time end = begin + absl::Seconds(static_cast<double>(*seconds));
  constexpr int kAppenders = 4;
  const absl::Duration interval =
      absl::Seconds(static_cast<double>(kAppenders) / static_cast<double>(*rate));
  std::vector<std::thread> appenders;
  for (int a = 0; a < kAppenders; ++a) {
    appenders.emplace_back([&, a] {
      auto stub = Connect(flags);
      absl::Time scheduled = begin + interval * a / kAppenders;
      // Until --duration is over, even when the server answers late (then
      // fewer appends are made): a run lasts --duration.
      for (uint64_t n = 0; scheduled < end && absl::Now() < end;
           ++n, scheduled += interval) {
        const absl::Time now = absl::Now();
        if (scheduled > now) absl::SleepFor(scheduled - now);
        vigil::v1::AppendRequest request;
        request.set_stream(absl::StrCat("bench-live-", a));
        vigil::v1::EventData* event = request.add_events();
        event->set_type("BenchTick");
        event->set_data(data);
        grpc::ClientContext context;
        Authorize(flags, &context);
        vigil::v1::AppendResponse response;
        if (!stub->Append(&context, request, &response).ok()) {
          errors.fetch_add(1);
          continue;
        }
        const absl::Time at = absl::Now();
        absl::MutexLock lock(&mu);
        acked[response.first_position()] = at;
        due[response.first_position()] = scheduled;
      }
    });
  }
  for (std::thread& thread : appenders) thread.join();
  // Longer than --duration by the last append's wait.
  const double load_s = absl::ToDoubleSeconds(absl::Now() - begin);
  const uint64_t rss_loaded = *pid > 0 ? RssBytes(*pid) : 0;
  absl::SleepFor(absl::Seconds(1));  // the last deliveries
  const uint64_t load_frames = all_frames.load() - frames_before;
  const double server_cpu =
      server_cpu_before >= 0 ? ProcessCpuMicros(*pid) - server_cpu_before : -1;
  const double client_cpu = OwnCpuMicros() - client_cpu_before;
  const double wall_us = absl::ToDoubleMicroseconds(absl::Now() - begin);
  net::post(ioc, [&] {
    for (auto& client : clients) client->Close();
  });
  ioc.stop();
  io.join();

  std::vector<double> micros;
  std::vector<double> micros_from_due;
  uint64_t frames = 0;
  uint64_t failed = 0;
  uint64_t missing = 0;
  absl::MutexLock lock(&mu);
  for (const auto& client : clients) {
    frames += client->frames;
    if (client->failed) ++failed;
    size_t got = 0;
    for (const auto& [position, at] : client->received) {
      auto it = acked.find(position);
      if (it == acked.end()) continue;
      ++got;
      micros.push_back(
          std::max(0.0, absl::ToDoubleMicroseconds(at - it->second)));
      micros_from_due.push_back(
          std::max(0.0, absl::ToDoubleMicroseconds(at - due[position])));
    }
    if (!client->failed && got < acked.size()) missing += acked.size() - got;
  }
  std::sort(micros.begin(), micros.end());
  std::sort(micros_from_due.begin(), micros_from_due.end());
  const auto whole = [](double value) { return base::RoundedNumber(value, 0); };
  const std::string line = base::DumpJson(
      {{"bench", "live"},
       {"connections", *connections},
       {"failed_connections", failed},
       {"rate", *rate},
       {"seconds", *seconds},
       {"appended", acked.size()},
       {"append_errors", errors.load()},
       {"deliveries", micros.size()},
       {"missing", missing},
       {"frames_per_s",
        whole(static_cast<double>(frames) / static_cast<double>(*seconds))},
       // Over the time the appends took (load_s), not --duration.
       {"load_s", base::RoundedNumber(load_s, 2)},
       {"deliveries_per_s",
        whole(static_cast<double>(micros.size()) / std::max(load_s, 1e-3))},
       {"latency_us",
        {{"p50", whole(Percentile(micros, 0.5))},
         {"p99", whole(Percentile(micros, 0.99))},
         {"max", whole(micros.empty() ? 0.0 : micros.back())}}},
       // From the time the append was due on the fixed schedule (as wrk2
       // corrects coordinated omission), for the appends that were made.
       {"latency_from_due_us",
        {{"p50", whole(Percentile(micros_from_due, 0.5))},
         {"p99", whole(Percentile(micros_from_due, 0.99))},
         {"max", whole(micros_from_due.empty() ? 0.0
                                               : micros_from_due.back())}}},
       {"cpu",
        {{"frames", load_frames},
         {"wall_s", base::RoundedNumber(wall_us / 1e6, 2)},
         {"client_cores", base::RoundedNumber(client_cpu / wall_us, 2)},
         {"client_us_per_frame",
          base::RoundedNumber(
              client_cpu / static_cast<double>(std::max<uint64_t>(1, load_frames)),
              3)},
         {"server_cores",
          server_cpu < 0 ? base::RoundedNumber(-1, 0)
                         : base::RoundedNumber(server_cpu / wall_us, 2)},
         {"server_us_per_frame",
          server_cpu < 0
              ? base::RoundedNumber(-1, 0)
              : base::RoundedNumber(
                    server_cpu /
                        static_cast<double>(std::max<uint64_t>(1, load_frames)),
                    3)}}},
       {"idle_seconds", *idle_seconds},
       {"closed_while_idle", closed_while_idle},
       {"vigild_rss_bytes",
        {{"connected_idle", rss_idle},
         {"after_idle", rss_after_idle},
         {"end_of_load", rss_loaded}}}});
  std::printf("%s\n", line.c_str());
  return failed == 0 && missing == 0 ? kExitOk : 1;
}

}  // namespace vigil::cli
