// ReadPool: a bounded pool of PostgreSQL connections for read-only
// transactions, the connection side of ReadQueries. Connections are opened
// when first needed and reopened after one breaks; a read that finds its
// connection broken (a server restart while it was idle) is retried once on
// a new one. pqxx exceptions end here as absl::Status.
//
// Thread-safe: any number of threads may call Run at once; each call holds
// one connection for its duration.

#ifndef VIGIL_PROJECTIONS_INTERNAL_READ_POOL_H_
#define VIGIL_PROJECTIONS_INTERNAL_READ_POOL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vigil::projections::internal {

class ReadPool {
 public:
  // One snapshot for all the statements of a read.
  using Tx = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;
  using Read = std::function<absl::StatusOr<std::string>(Tx&)>;

  // At most `connections` (>= 1) connections to `pg_url`; a call waits at
  // most `wait` for a free one. Opening one is bounded by libpq alone: put
  // connect_timeout in pg_url to bound it.
  ReadPool(std::string pg_url, int connections, absl::Duration wait);
  ~ReadPool();

  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  // Runs `read` in a read-only repeatable-read transaction and commits it.
  // What `read` returns, or UNAVAILABLE when no connection is free within
  // `wait` or PostgreSQL cannot be reached, INTERNAL when a statement fails
  // otherwise.
  absl::StatusOr<std::string> Run(const Read& read);

 private:
  struct Slot;  // one connection, opened lazily
  class Lease;

  absl::StatusOr<int> Acquire();
  void Release(int slot);

  const std::string pg_url_;
  const absl::Duration wait_;
  // Slot i is used only by the call that took i from free_.
  std::vector<std::unique_ptr<Slot>> slots_;
  absl::Mutex mu_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::projections::internal

#endif  // VIGIL_PROJECTIONS_INTERNAL_READ_POOL_H_
