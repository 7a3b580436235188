#include "projections/internal/read_pool.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace vigil::projections::internal {
namespace {

bool NonEmpty(std::vector<int>* v) { return !v->empty(); }

}  // namespace

struct ReadPool::Slot {
  std::unique_ptr<pqxx::connection> connection;  // null until opened
};

// Gives a slot back to the pool when the call ends.
class ReadPool::Lease {
 public:
  Lease(ReadPool* pool, int slot) : pool_(pool), slot_(slot) {}
  ~Lease() { pool_->Release(slot_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

 private:
  ReadPool* const pool_;
  const int slot_;
};

ReadPool::ReadPool(std::string pg_url, int connections, absl::Duration wait)
    : pg_url_(std::move(pg_url)), wait_(wait) {
  const int n = std::max(connections, 1);
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < n; ++i) {
    slots_.push_back(std::make_unique<Slot>());
    free_.push_back(n - 1 - i);
  }
}

ReadPool::~ReadPool() = default;

absl::StatusOr<int> ReadPool::Acquire() {
  if (!mu_.LockWhenWithTimeout(absl::Condition(&NonEmpty, &free_), wait_)) {
    mu_.Unlock();
    return absl::UnavailableError(absl::StrCat(
        "no PostgreSQL connection free within ", absl::FormatDuration(wait_)));
  }
  const int slot = free_.back();
  free_.pop_back();
  mu_.Unlock();
  return slot;
}

void ReadPool::Release(int slot) {
  absl::MutexLock lock(&mu_);
  free_.push_back(slot);
}

absl::StatusOr<std::string> ReadPool::Run(const Read& read) {
  ASSIGN_OR_RETURN(const int slot_index, Acquire());
  Lease lease(this, slot_index);
  Slot& slot = *slots_[static_cast<size_t>(slot_index)];
  // A pooled connection may have broken while idle (a server restart):
  // then the read is retried once on a new connection.
  for (bool retried = false;; retried = true) {
    bool fresh = false;
    if (slot.connection == nullptr || !slot.connection->is_open()) {
      slot.connection.reset();
      try {
        slot.connection = std::make_unique<pqxx::connection>(pg_url_);
      } catch (const std::exception& e) {
        return absl::UnavailableError(
            absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
      }
      fresh = true;
    }
    std::string error;
    try {
      Tx tx(*slot.connection);
      absl::StatusOr<std::string> body = read(tx);
      tx.commit();
      return body;
    } catch (const pqxx::broken_connection& e) {
      error = e.what();
    } catch (const std::exception& e) {
      if (slot.connection->is_open()) {
        return absl::InternalError(
            absl::StrCat("read query failed: ", e.what()));
      }
      error = e.what();
    }
    slot.connection.reset();
    if (fresh || retried) {
      return absl::UnavailableError(
          absl::StrCat("PostgreSQL connection lost: ", error));
    }
  }
}

}  // namespace vigil::projections::internal
