// Idempotency keys: same request, different request, restarts, expiry.

#include <rocksdb/db.h>

#include "eventlog/event_log.h"
#include "eventlog/internal/rocks_db.h"
#include "eventlog/internal/rocks_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using ::testing::HasSubstr;
using testing::Json;
using testing::Request;

class IdempotencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.clock = [this] { return now_us_; };
    options_.idempotency_retention_us = 60'000'000;  // one minute
    Reopen();
  }
  void Reopen() {
    log_.reset();
    auto log = EventLog::Open(options_, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }
  AppendRequest Keyed(std::string key, std::string data = "{\"n\":1}") {
    return Request("task-1", {Json("TaskCreated", data), Json("TaskAssigned")},
                   ExpectedRevision::Any(), std::move(key));
  }

  int64_t now_us_ = 1'700'000'000'000'000;
  vigil::testing::TempDir dir_;
  Options options_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(IdempotencyTest, SameRequestReturnsTheFirstResult) {
  auto first = log_->Append(Keyed("k1"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->deduplicated);
  auto again = log_->Append(Keyed("k1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->first_position, first->first_position);
  EXPECT_EQ(again->last_position, first->last_position);
  EXPECT_EQ(again->next_expected_revision, first->next_expected_revision);
  EXPECT_EQ(log_->HeadPosition(), 2u);
}

TEST_F(IdempotencyTest, DeduplicatesEvenWhenTheExpectedRevisionNoLongerHolds) {
  AppendRequest request = Keyed("k1");
  request.expected_revision = ExpectedRevision::NoStream();
  ASSERT_TRUE(log_->Append(request).ok());
  auto retry = log_->Append(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->deduplicated);
}

TEST_F(IdempotencyTest, DifferentRequestWithTheSameKeyFails) {
  ASSERT_TRUE(log_->Append(Keyed("k1")).ok());
  auto other = log_->Append(Keyed("k1", "{\"n\":2}"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(), HasSubstr("k1"));
  AppendRequest other_stream = Keyed("k1");
  other_stream.stream = "task-2";
  EXPECT_EQ(log_->Append(other_stream).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(log_->HeadPosition(), 2u);
}

TEST_F(IdempotencyTest, ServerAssignedIdsDoNotBreakDeduplication) {
  // The client left event_id empty both times; the retry is the same request.
  auto first = log_->Append(Keyed("k1"));
  auto again = log_->Append(Keyed("k1"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->deduplicated);
}

TEST_F(IdempotencyTest, SameKeyTwiceInOneGroupAppendsOnce) {
  constexpr int kThreads = 16;
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<AppendResult>> results(kThreads,
                                                    absl::UnknownError(""));
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { results[t] = log_->Append(Keyed("race")); });
  }
  for (auto& thread : threads) thread.join();
  int fresh = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->first_position, 1u);
    fresh += r->deduplicated ? 0 : 1;
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(log_->HeadPosition(), 2u);
}

TEST_F(IdempotencyTest, AnsweredIdenticallyAfterRestart) {
  auto first = log_->Append(Keyed("k1"));
  ASSERT_TRUE(first.ok());
  Reopen();
  auto again = log_->Append(Keyed("k1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->first_position, first->first_position);
  EXPECT_EQ(log_->Append(Keyed("k1", "{}")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(IdempotencyTest, ExpiresAfterTheRetention) {
  ASSERT_TRUE(log_->Append(Keyed("k1")).ok());
  now_us_ += 59'000'000;
  EXPECT_TRUE(log_->Append(Keyed("k1"))->deduplicated);
  now_us_ += 2'000'000;  // past one minute
  auto after = log_->Append(Keyed("k1"));
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->deduplicated);
  EXPECT_EQ(after->first_position, 3u);
  // The new binding holds, and a different request is refused again.
  EXPECT_TRUE(log_->Append(Keyed("k1"))->deduplicated);
  EXPECT_EQ(log_->Append(Keyed("k1", "{}")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Counts the idempotency records ('i' keys, FORMAT.md) in a closed log.
int CountKeys(const std::string& dir) {
  std::unique_ptr<internal::RocksDb> db;
  EXPECT_TRUE(
      internal::RocksDb::Open(internal::ToRocksOptions(Options{}), dir, &db).ok());
  if (db == nullptr) return -1;
  std::unique_ptr<rocksdb::Iterator> it(db->db()->NewIterator({}, db->index()));
  int n = 0;
  for (it->Seek("i"); it->Valid() && it->key().starts_with("i"); it->Next()) ++n;
  return n;
}

TEST_F(IdempotencyTest, ExpiredKeysAreDeletedInTheBackground) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(log_->Append(Keyed("old-" + std::to_string(i))).ok());
  }
  now_us_ += 61'000'000;
  // The writer removes a slice of expired keys with later group commits.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(log_->Append(Keyed("new-" + std::to_string(i))).ok());
    now_us_ += 1'000'001;
  }
  log_.reset();
  EXPECT_EQ(CountKeys(dir_.path()), 3);
}

}  // namespace
}  // namespace vigil::eventlog
