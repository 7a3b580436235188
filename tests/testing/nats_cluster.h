// A three-node NATS cluster with JetStream on 127.0.0.1 for a test, run by
// tools/cluster (one place writes the nodes' configuration) in the test's
// own directory, on ports picked free: node i's client port is base + i,
// its route port base + 100 + i, its monitoring port base + 200 + i. The
// destructor stops every node (paused ones too). Available() is false
// when nats-server is not installed: tests then GTEST_SKIP. On request,
// tools/cluster also runs a three-member etcd cluster (client ports
// base + 300 + i, peer ports base + 400 + i); EtcdAvailable() says whether
// etcd is installed.

#ifndef VIGIL_TESTS_TESTING_NATS_CLUSTER_H_
#define VIGIL_TESTS_TESTING_NATS_CLUSTER_H_

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tools/torture/child_process.h"

namespace vigil::testing {

class NatsCluster {
 public:
  static bool Available() {
    return std::system("command -v nats-server >/dev/null 2>&1") == 0;
  }
  static bool EtcdAvailable() {
    return std::system("command -v etcd >/dev/null 2>&1") == 0;
  }

  // Starts the nodes (up to 30 s for the JetStream cluster to form); check
  // ok(). `dir` must exist and outlive the cluster.
  // With `with_etcd`, a three-member etcd cluster too (etcd_url()).
  explicit NatsCluster(const std::string& dir, bool with_etcd = false)
      : dir_(dir), with_etcd_(with_etcd) {
    for (int attempt = 0; attempt < 50 && base_ == 0; ++attempt) {
      const int base = torture::FreePort();
      if (base > 1024 && base + 402 < 65536 && AllFree(base)) base_ = base;
    }
    const std::string out = Run("up");
    const size_t first_end = out.find('\n');
    url_ = out.substr(0, first_end);
    if (with_etcd_ && first_end != std::string::npos) {
      etcd_url_ = out.substr(first_end + 1);
      while (!etcd_url_.empty() && etcd_url_.back() == '\n') etcd_url_.pop_back();
    }
  }
  ~NatsCluster() { Run("down"); }
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  bool ok() const {
    return url_.rfind("nats://", 0) == 0 &&
           (!with_etcd_ || etcd_url_.rfind("http://", 0) == 0);
  }
  // The etcd members' client URLs, comma-separated (--etcd-endpoints).
  const std::string& etcd_url() const { return etcd_url_; }
  // The three client URLs, comma-separated (vigild's --nats-url).
  const std::string& url() const { return url_; }
  int base_port() const { return base_; }

  // SIGSTOP / SIGCONT / SIGKILL node `i` (0 to 2).
  void Pause(int i) { Signal(i, SIGSTOP); }
  void Resume(int i) { Signal(i, SIGCONT); }
  void Kill(int i) { Signal(i, SIGKILL); }
  // SIGSTOP / SIGCONT etcd member `i` (0 to 2).
  void PauseEtcd(int i) { Signal(i, SIGSTOP, "/e"); }
  void ResumeEtcd(int i) { Signal(i, SIGCONT, "/e"); }
  // Starts the nodes that are not running; true once the cluster formed.
  bool StartMissing() { return !Run("up").empty(); }

 private:
  static bool AllFree(int base) {
    for (int offset :
         {0, 1, 2, 100, 101, 102, 200, 201, 202, 300, 301, 302, 400, 401, 402}) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(base + offset));
      const bool bound =
          bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      close(fd);
      if (!bound) return false;
    }
    return true;
  }

  // tools/cluster COMMAND DIR's standard output.
  std::string Run(const std::string& command) {
    const std::string line = "VIGIL_NATS_BASE_PORT=" + std::to_string(base_) +
                             " VIGIL_CLUSTER_ETCD=" + (with_etcd_ ? "1" : "0") +
                             " " + VIGIL_SOURCE_DIR + "/tools/cluster " +
                             command + " " + dir_ + " 2>>" + dir_ +
                             "/cluster.err";
    FILE* out = popen(line.c_str(), "r");
    if (out == nullptr) return "";
    std::string text;
    char buffer[512];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), out)) > 0) text.append(buffer, n);
    return pclose(out) == 0 ? text : "";
  }

  void Signal(int i, int signal, const char* member = "/n") {
    std::ifstream pid_file(dir_ + member + std::to_string(i + 1) + "/pid");
    pid_t pid = 0;
    if (pid_file >> pid && pid > 0) kill(pid, signal);
  }

  const std::string dir_;
  const bool with_etcd_;
  int base_ = 0;
  std::string url_;
  std::string etcd_url_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_NATS_CLUSTER_H_
