#include "projections/embedded_postgres.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace vigil::projections {
namespace {

namespace fs = std::filesystem;

// Without TCP the port only names the socket file.
constexpr int kPort = 5432;
constexpr char kSocketName[] = ".s.PGSQL.5432";
constexpr char kServerUser[] = "postgres";  // initdb's superuser, and the OS
                                            // user the server runs as under root
// How much of a log an error message quotes.
constexpr size_t kLogTailBytes = 2000;

// Written once into postgresql.conf after initdb. The socket directory, port
// and listen_addresses are given on the command line on every start instead,
// so that a moved cluster_dir still works and no edit turns TCP on.
constexpr char kConfig[] = R"(
# Vigil's embedded read-model store (projections/embedded_postgres.cc).
# fsync and synchronous_commit stay on: this cluster is the only copy of the
# read models (they can be rebuilt from the event log, but slowly).
max_connections = 50
shared_buffers = 128MB
unix_socket_permissions = 0700
log_line_prefix = '%m [%p] %q%u@%d '
)";

// The OS user that runs initdb, pg_ctl and the server: `postgres` when we are
// root, else ourselves (change_user == false).
struct ServerAccount {
  bool change_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

absl::StatusOr<ServerAccount> GetServerAccount() {
  ServerAccount account;
  if (geteuid() != 0) {
    account.uid = geteuid();
    account.gid = getegid();
    return account;
  }
  std::vector<char> buffer(16384);
  passwd entry;
  passwd* found = nullptr;
  int error = getpwnam_r(kServerUser, &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "running as root, the embedded PostgreSQL runs as user '", kServerUser,
        "', which does not exist",
        error != 0 ? absl::StrCat(" (", std::strerror(error), ")") : ""));
  }
  account.change_user = true;
  account.uid = entry.pw_uid;
  account.gid = entry.pw_gid;
  int count = 64;
  account.groups.resize(static_cast<size_t>(count));
  if (getgrouplist(kServerUser, entry.pw_gid, account.groups.data(), &count) < 0) {
    account.groups.resize(static_cast<size_t>(count));
    getgrouplist(kServerUser, entry.pw_gid, account.groups.data(), &count);
  }
  account.groups.resize(static_cast<size_t>(count));
  return account;
}

// Every directory above `dir` must let `account` search it, or initdb and the
// server cannot reach their data directory.
absl::Status CheckTraversable(const fs::path& dir, const ServerAccount& account) {
  for (fs::path p = dir.parent_path();; p = p.parent_path()) {
    struct stat st;
    if (stat(p.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot stat ", p.string(), ": ", std::strerror(errno)));
    }
    mode_t bit = S_IXOTH;
    if (st.st_uid == account.uid) {
      bit = S_IXUSR;
    } else if (std::find(account.groups.begin(), account.groups.end(), st.st_gid) !=
               account.groups.end()) {
      bit = S_IXGRP;
    }
    if ((st.st_mode & bit) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the embedded PostgreSQL runs as user '", kServerUser, "' (uid ",
          account.uid, "), which cannot traverse ", p.string(),
          absl::StrFormat(" (mode %04o): ", st.st_mode & 07777),
          "make it traversable (chmod o+x) or put the cluster elsewhere"));
    }
    if (p == p.parent_path()) return absl::OkStatus();
  }
}

// The last kLogTailBytes of a log file, for error messages.
std::string Tail(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::StrCat("(no ", path.string(), ")");
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = std::max<std::streamoff>(0, size - kLogTailBytes);
  in.seekg(start);
  std::stringstream text;
  text << in.rdbuf();
  std::string tail = text.str();
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return absl::StrCat(path.string(), (start > 0 ? " (end)" : ""), ":\n", tail);
}

// Runs argv[0] (an absolute path) as `account` with stdin from /dev/null and
// stdout and stderr into `output` (truncated), and returns its exit code.
absl::StatusOr<int> Run(const std::vector<std::string>& argv, const fs::path& output,
                        const ServerAccount& account) {
  // Everything the child needs is prepared here: between fork and exec only
  // async-signal-safe calls are allowed (vigild has threads).
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int out = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", output.string(), ": ", std::strerror(errno)));
  }
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    close(out);
    return absl::InternalError(absl::StrCat("cannot open /dev/null: ", std::strerror(errno)));
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    // The server must not inherit vigild's sockets and files.
    close_range(3, ~0U, 0);
    const char* failed = nullptr;
    if (account.change_user &&
        (setgroups(account.groups.size(), account.groups.data()) != 0 ||
         setgid(account.gid) != 0 || setuid(account.uid) != 0)) {
      failed = "cannot switch to the postgres user: ";
    } else {
      execv(args[0], args.data());
      failed = "cannot execute the program: ";
    }
    const char* reason = strerror(errno);
    (void)!write(STDERR_FILENO, failed, strlen(failed));
    (void)!write(STDERR_FILENO, reason, strlen(reason));
    _exit(127);
  }
  int fork_errno = errno;
  close(in);
  close(out);
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(fork_errno)));
  }
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid failed: ", std::strerror(errno)));
    }
  }
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

// Runs a PostgreSQL program; INTERNAL with the tail of its output (and of
// `also_log`, e.g. server.log) when it exits non-zero.
absl::Status RunTool(const std::vector<std::string>& argv, const fs::path& output,
                     const ServerAccount& account, const fs::path& also_log = {}) {
  ASSIGN_OR_RETURN(int code, Run(argv, output, account));
  if (code == 0) return absl::OkStatus();
  std::string message = absl::StrCat("embedded PostgreSQL: `", absl::StrJoin(argv, " "),
                                     "` exited with ", code, "; ", Tail(output));
  if (!also_log.empty()) absl::StrAppend(&message, "\n", Tail(also_log));
  return absl::InternalError(message);
}

// Quotes for /bin/sh, which pg_ctl runs the server command line with.
std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// Percent-encodes everything but unreserved characters and '/'.
std::string UriEncode(const std::string& s) {
  std::string encoded;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      encoded += static_cast<char>(c);
    } else {
      absl::StrAppend(&encoded, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return encoded;
}

std::string SocketUrl(const fs::path& socket_dir, const std::string& database) {
  return absl::StrCat("postgresql://", kServerUser, "@/", UriEncode(database),
                      "?host=", UriEncode(socket_dir.string()), "&port=", kPort);
}

// The postmaster PID recorded in data/postmaster.pid, if that file exists.
std::optional<pid_t> PostmasterPid(const fs::path& data_dir) {
  std::ifstream in(data_dir / "postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

// Whether `pid` is a live postgres process. A PID from a postmaster.pid that
// outlived its server may have been reused by another program since.
bool IsPostgresProcess(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/comm"));
  std::string name;
  return std::getline(in, name) && name == "postgres";
}

// Creates the cluster in data_dir: initdb into a scratch directory that is
// renamed into place only when complete, so a kill during initdb leaves
// nothing that looks like a cluster.
absl::Status InitCluster(const EmbeddedPostgresOptions& options, const fs::path& data_dir,
                         const ServerAccount& account) {
  const fs::path cluster_dir = data_dir.parent_path();
  const fs::path scratch = cluster_dir / "data.initdb";
  std::error_code error;
  fs::remove_all(scratch, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot remove ", scratch.string(), ": ", error.message()));
  }
  RETURN_IF_ERROR(RunTool({options.bin_dir + "/initdb", "-D", scratch.string(), "-U",
                           kServerUser, "-E", "UTF8", "--locale=C.UTF-8",
                           "--auth-local=trust", "--auth-host=reject"},
                          cluster_dir / "initdb.log", account));
  {
    std::ofstream conf(scratch / "postgresql.conf", std::ios::app);
    conf << kConfig;
    if (!conf.flush()) {
      return absl::InternalError(
          absl::StrCat("cannot append to ", (scratch / "postgresql.conf").string()));
    }
  }
  fs::rename(scratch, data_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot rename ", scratch.string(), " to ",
                                            data_dir.string(), ": ", error.message()));
  }
  return absl::OkStatus();
}

// Creates `database` when missing; the server must accept connections.
absl::Status EnsureDatabase(const fs::path& socket_dir, const std::string& database) {
  try {
    pqxx::connection connection{SocketUrl(socket_dir, "postgres")};
    pqxx::nontransaction tx{connection};
    pqxx::result found =
        tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", database);
    if (found.empty()) tx.exec0("CREATE DATABASE " + tx.quote_name(database));
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("embedded PostgreSQL: cannot create database '",
                                            database, "': ", e.what()));
  }
}

absl::Status CheckOptions(const EmbeddedPostgresOptions& options) {
  if (options.cluster_dir.empty()) {
    return absl::InvalidArgumentError("embedded PostgreSQL: cluster_dir is empty");
  }
  const std::string socket = options.cluster_dir + "/" + kSocketName;
  if (socket.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "embedded PostgreSQL: the socket path ", socket, " is ", socket.size(),
        " bytes, over the ", sizeof(sockaddr_un{}.sun_path) - 1,
        "-byte limit of Unix socket paths; use a shorter data directory"));
  }
  // pg_ctl puts the data directory and log path in double quotes on a shell
  // command line, where these characters would be interpreted.
  if (options.cluster_dir.find_first_of("\"$`\\") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "embedded PostgreSQL: cluster_dir may not contain \" $ ` or \\: ", options.cluster_dir));
  }
  if (options.database.empty() || options.database.size() > 63) {
    return absl::InvalidArgumentError(absl::StrCat(
        "embedded PostgreSQL: database name must have 1 to 63 bytes: '", options.database, "'"));
  }
  for (const char* tool : {"initdb", "pg_ctl", "postgres"}) {
    const std::string path = options.bin_dir + "/" + tool;
    if (access(path.c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("embedded PostgreSQL: ", path,
                                              " is not an executable (", std::strerror(errno),
                                              "); is bin_dir right?"));
    }
  }
  return absl::OkStatus();
}

// Makes cluster_dir exist, owned by the server's account, mode 0700.
absl::Status PrepareClusterDir(const fs::path& cluster_dir, const ServerAccount& account) {
  std::error_code error;
  fs::create_directories(cluster_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", cluster_dir.string(), ": ", error.message()));
  }
  if (account.change_user && chown(cluster_dir.c_str(), account.uid, account.gid) != 0) {
    return absl::InternalError(absl::StrCat("cannot chown ", cluster_dir.string(),
                                            " to ", kServerUser, ": ", std::strerror(errno)));
  }
  if (chmod(cluster_dir.c_str(), 0700) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot chmod ", cluster_dir.string(), ": ", std::strerror(errno)));
  }
  if (account.change_user) return CheckTraversable(cluster_dir, account);
  return absl::OkStatus();
}

std::string Seconds(absl::Duration d) {
  return absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1)))));
}

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> EmbeddedPostgres::Start(
    const EmbeddedPostgresOptions& given) {
  EmbeddedPostgresOptions options = given;
  if (!options.cluster_dir.empty()) {
    std::error_code error;
    options.cluster_dir = fs::absolute(options.cluster_dir, error).lexically_normal().string();
    while (options.cluster_dir.size() > 1 && options.cluster_dir.back() == '/') {
      options.cluster_dir.pop_back();
    }
  }
  RETURN_IF_ERROR(CheckOptions(options));
  ASSIGN_OR_RETURN(ServerAccount account, GetServerAccount());
  const fs::path cluster_dir = options.cluster_dir;
  const fs::path data_dir = cluster_dir / "data";
  RETURN_IF_ERROR(PrepareClusterDir(cluster_dir, account));
  if (!fs::exists(data_dir / "PG_VERSION")) {
    RETURN_IF_ERROR(InitCluster(options, data_dir, account));
  }

  const std::string url = SocketUrl(cluster_dir, options.database);
  const std::string postgres_url = SocketUrl(cluster_dir, "postgres");
  const absl::Time deadline = absl::Now() + options.start_timeout;
  bool adopted = false;
  std::optional<pid_t> pid = PostmasterPid(data_dir);
  if (pid && IsPostgresProcess(*pid)) {
    // A server from an earlier run (its owner was killed): adopt it. It may
    // still be in crash recovery, so wait for it.
    adopted = true;
    absl::Status connectable = WaitForConnectable(postgres_url, options.start_timeout);
    if (!connectable.ok()) {
      return absl::Status(
          connectable.code(),
          absl::StrCat("embedded PostgreSQL: server PID ", *pid, " runs on ", data_dir.string(),
                       " but does not accept connections: ", connectable.message(), "\n",
                       Tail(cluster_dir / "server.log")));
    }
  } else {
    if (pid) {
      // The server died with its lock files in place, or their PID now
      // belongs to another program, which would make the server refuse to
      // start. Its socket lock records the same PID.
      std::error_code ignored;
      fs::remove(data_dir / "postmaster.pid", ignored);
      fs::remove(cluster_dir / (std::string(kSocketName) + ".lock"), ignored);
    }
    const std::string server_options =
        absl::StrCat("-p ", kPort, " -c listen_addresses='' -k ",
                     ShellQuote("\"" + cluster_dir.string() + "\""));
    RETURN_IF_ERROR(RunTool({options.bin_dir + "/pg_ctl", "start", "-w", "-t",
                             Seconds(options.start_timeout), "-D", data_dir.string(), "-l",
                             (cluster_dir / "server.log").string(), "-o", server_options},
                            cluster_dir / "pg_ctl.log", account, cluster_dir / "server.log"));
    RETURN_IF_ERROR(WaitForConnectable(postgres_url, std::max(deadline - absl::Now(),
                                                              absl::Seconds(1))));
  }
  RETURN_IF_ERROR(EnsureDatabase(cluster_dir, options.database));
  return std::unique_ptr<EmbeddedPostgres>(
      new EmbeddedPostgres(std::move(options), url, adopted));
}

EmbeddedPostgres::EmbeddedPostgres(EmbeddedPostgresOptions options, std::string url,
                                   bool adopted)
    : options_(std::move(options)), url_(std::move(url)), adopted_(adopted) {}

EmbeddedPostgres::~EmbeddedPostgres() {
  // Nobody is left to hear about a failure; the next Start recovers.
  (void)Stop();
}

absl::Status EmbeddedPostgres::Stop() {
  if (!running_) return absl::OkStatus();
  running_ = false;
  ASSIGN_OR_RETURN(ServerAccount account, GetServerAccount());
  const fs::path cluster_dir = options_.cluster_dir;
  return RunTool({options_.bin_dir + "/pg_ctl", "stop", "-w", "-m", "fast", "-t",
                  Seconds(options_.start_timeout), "-D", (cluster_dir / "data").string()},
                 cluster_dir / "pg_ctl.log", account, cluster_dir / "server.log");
}

absl::Status WaitForConnectable(const std::string& url, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    try {
      pqxx::connection connection{url};
      return absl::OkStatus();
    } catch (const std::exception& e) {
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("cannot connect to ", url, " within ", absl::FormatDuration(timeout),
                         ": ", e.what()));
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace vigil::projections
