#include "eventlog/internal/rocks_options.h"

#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "eventlog/internal/codec.h"

namespace vigil::eventlog::internal {
namespace {

// The part of a key after which the log's inserts come in order: all record
// keys ("p", positions ascend), one stream's revision keys ("s" + stream +
// "\0", revisions ascend), one stream's metadata key (rewritten in place),
// the expiry index ("x", times ascend). RocksDB keeps an insertion hint per
// such prefix in the memtable, so an insert starts next to the previous one
// of its prefix instead of searching the skiplist from the top: with 64
// concurrent single-event appenders, random-position skiplist inserts had
// become the writer's largest cost.
class InsertHintPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "vigil.InsertHintPrefix"; }

  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    switch (key[0]) {
      case kRecordPrefix:
      case kExpiryPrefix:
        return rocksdb::Slice(key.data(), 1);
      case kRevisionPrefix: {
        const void* end = std::memchr(key.data() + 1, '\0', key.size() - 1);
        return rocksdb::Slice(key.data(),
                              static_cast<const char*>(end) - key.data() + 1);
      }
      default:  // kStreamPrefix
        return key;
    }
  }

  bool InDomain(const rocksdb::Slice& key) const override {
    if (key.empty()) return false;
    switch (key[0]) {
      case kRecordPrefix:
      case kExpiryPrefix:
      case kStreamPrefix:
        return true;
      case kRevisionPrefix:
        return key.size() > 1 &&
               std::memchr(key.data() + 1, '\0', key.size() - 1) != nullptr;
      default:
        return false;
    }
  }
};

// RocksDB's diagnostics, warnings and worse, on stderr. Not RocksDB's default
// LOG file in the data directory: when that disk fills up, Debian's
// librocksdb (built with assertions on) aborts the process on the second
// failed LOG write, turning a full disk into a crash.
class StderrLogger final : public rocksdb::Logger {
 public:
  StderrLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    std::fputs("rocksdb: ", stderr);
    std::vfprintf(stderr, format, ap);
    std::fputc('\n', stderr);
  }
};

}  // namespace

rocksdb::Options ToRocksOptions(const Options& options) {
  rocksdb::Options rocks;
  rocks.create_if_missing = options.create_if_missing;
  // Durability (docs/contract.md "Durability"): every acknowledged append was
  // written to the WAL and synced. On recovery, replay the WAL up to the first
  // torn record: a torn tail can only hold appends that were never
  // acknowledged.
  rocks.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  rocks.paranoid_checks = true;
  rocks.manual_wal_flush = false;
  // Secondary instances (OpenReader) need every file handle kept open.
  rocks.max_open_files = -1;
  rocks.info_log = std::make_shared<StderrLogger>();
  rocks.memtable_insert_with_hint_prefix_extractor =
      std::make_shared<InsertHintPrefix>();
  // Hints are ignored by concurrent memtable writes; the log has a single
  // writer thread anyway.
  rocks.allow_concurrent_memtable_write = false;
  // A WAL file is kept until every family with data in it has flushed; the
  // index family fills its memtable far slower than the records, so bound
  // the WAL (and the replay after a crash) by flushing it when the WALs
  // reach this size.
  rocks.max_total_wal_size = 256 << 20;
  rocks.write_buffer_size = options.memtable_bytes;
  // A bloom filter over each memtable's whole keys: the writer looks up
  // every idempotency key and new stream, most of them absent, and the
  // filter answers those without searching the skip list.
  rocks.memtable_prefix_bloom_size_ratio = 0.02;
  rocks.memtable_whole_key_filtering = true;
  rocks.compression = rocksdb::kLZ4Compression;
  rocks.bottommost_compression = rocksdb::kZSTD;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Point lookups (stream metadata, idempotency keys) dominate the writer.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocks.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return rocks;
}

}  // namespace vigil::eventlog::internal
