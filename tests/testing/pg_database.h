// A fresh PostgreSQL database for one test, on the server tools/test starts
// ($VIGIL_TEST_PG_URL); without that variable, on a private embedded
// cluster started once per test process. Dropped when the object goes away.

#ifndef VIGIL_TESTS_TESTING_PG_DATABASE_H_
#define VIGIL_TESTS_TESTING_PG_DATABASE_H_

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "projections/embedded_postgres.h"
#include "tests/testing/temp_dir.h"

namespace vigil::testing {

// `url` with its database name replaced by `database`.
inline std::string WithDatabase(const std::string& url,
                                const std::string& database) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) throw std::runtime_error("no database in " + url);
  const size_t end = url.find('?', slash);
  return url.substr(0, slash + 1) + database +
         (end == std::string::npos ? "" : url.substr(end));
}

// The server's URL: $VIGIL_TEST_PG_URL, else an embedded cluster.
inline const std::string& TestServerUrl() {
  static const std::string* const kUrl = [] {
    if (const char* url = std::getenv("VIGIL_TEST_PG_URL"); url && *url) {
      return new std::string(url);
    }
    // Short path: the socket lives in the cluster directory.
    static TempDir* dir = new TempDir();
    // As root the server runs as `postgres`, which must traverse the
    // (mode 0700) temporary directory.
    if (chmod(dir->path().c_str(), 0711) != 0) {
      throw std::runtime_error("cannot chmod " + dir->path());
    }
    auto started = projections::EmbeddedPostgres::Start(
        {.cluster_dir = dir->Sub("pg")});
    if (!started.ok()) {
      throw std::runtime_error(std::string(started.status().message()));
    }
    // Left running until the process ends (the destructor would stop it
    // while other statics may still use it); Stop at exit via atexit.
    static std::unique_ptr<projections::EmbeddedPostgres> server =
        *std::move(started);
    std::atexit([] { (void)server->Stop(); });
    return new std::string(server->url());
  }();
  return *kUrl;
}

// Every row of `sql`'s result on `url`, columns joined by '|' (NULL as "∅").
inline std::vector<std::string> QueryRows(const std::string& url,
                                          const std::string& sql) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  std::vector<std::string> rows;
  for (const pqxx::row& row : tx.exec(sql)) {
    std::string line;
    for (const pqxx::field& field : row) {
      if (field.num() > 0) line += "|";
      line += field.is_null() ? std::string("∅") : field.c_str();
    }
    rows.push_back(line);
  }
  return rows;
}

class PgDatabase {
 public:
  PgDatabase() {
    static std::atomic<int> counter{0};
    name_ = "vigil_test_" + std::to_string(getpid()) + "_" +
            std::to_string(counter++);
    pqxx::connection admin(TestServerUrl());
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    tx.exec("CREATE DATABASE " + name_);
    url_ = WithDatabase(TestServerUrl(), name_);
  }
  ~PgDatabase() {
    try {
      pqxx::connection admin(TestServerUrl());
      pqxx::nontransaction tx(admin);
      tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The server may be gone (a test that stops it); nothing to clean.
    }
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  const std::string& url() const { return url_; }

  std::vector<std::string> Rows(const std::string& sql) const {
    return QueryRows(url_, sql);
  }

 private:
  std::string name_;
  std::string url_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_PG_DATABASE_H_
