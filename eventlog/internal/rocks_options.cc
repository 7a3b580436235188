#include "eventlog/internal/rocks_options.h"

#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <cstdarg>
#include <cstdio>

namespace vigil::eventlog::internal {
namespace {

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
  // Durability (SPEC "Durability"): every acknowledged append was written to
  // the WAL and synced. On recovery, replay the WAL up to the first torn
  // record: a torn tail can only hold appends that were never acknowledged.
  rocks.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  rocks.paranoid_checks = true;
  rocks.manual_wal_flush = false;
  // Secondary instances (OpenReader) need every file handle kept open.
  rocks.max_open_files = -1;
  rocks.info_log = std::make_shared<StderrLogger>();
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
