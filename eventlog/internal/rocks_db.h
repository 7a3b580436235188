// The log's RocksDB database and its column families (FORMAT.md, "Column
// families"): records in the default family, every other key in "index".
// Logs created before the split keep all keys in the default family; both
// layouts are read and written, chosen by which families exist on disk.

#ifndef VIGIL_EVENTLOG_INTERNAL_ROCKS_DB_H_
#define VIGIL_EVENTLOG_INTERNAL_ROCKS_DB_H_

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::eventlog::internal {

// The column family that holds every key but the records.
inline constexpr char kIndexFamily[] = "index";

class RocksDb {
 public:
  // Opens (or creates, when `rocks.create_if_missing` and `dir` holds no
  // database) the log in `dir` for writing. A new log gets both families.
  static rocksdb::Status Open(const rocksdb::Options& rocks,
                              const std::string& dir,
                              std::unique_ptr<RocksDb>* out);

  // Opens a secondary instance (reads while another process writes) with
  // its own files in `secondary_dir`.
  static rocksdb::Status OpenAsSecondary(const rocksdb::Options& rocks,
                                         const std::string& dir,
                                         const std::string& secondary_dir,
                                         std::unique_ptr<RocksDb>* out);

  RocksDb(const RocksDb&) = delete;
  RocksDb& operator=(const RocksDb&) = delete;
  ~RocksDb();  // releases the families, then closes the database

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* records() const { return records_; }
  rocksdb::ColumnFamilyHandle* index() const { return index_; }
  // The family of `key`, by its prefix byte.
  rocksdb::ColumnFamilyHandle* For(std::string_view key) const;
  // False for a log created before the split (one family for everything).
  bool split() const { return records_ != index_; }

 private:
  RocksDb() = default;
  static rocksdb::Status OpenFamilies(const rocksdb::Options& rocks,
                                      const std::string& dir,
                                      const std::string* secondary_dir,
                                      std::unique_ptr<RocksDb>* out);

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* records_ = nullptr;
  rocksdb::ColumnFamilyHandle* index_ = nullptr;
};

// An iterator over one family of `rocks` that stops before `upper_bound` (a
// key just past every key it should visit), kept alive beside it. Used like
// the iterator itself: it->Seek(key), it->Valid(), ...
class BoundedIterator {
 public:
  BoundedIterator(const RocksDb& rocks, rocksdb::ColumnFamilyHandle* family,
                  std::string upper_bound)
      : upper_(std::move(upper_bound)), slice_(upper_) {
    rocksdb::ReadOptions read;
    read.iterate_upper_bound = &slice_;
    it_.reset(rocks.db()->NewIterator(read, family));
  }
  BoundedIterator(const BoundedIterator&) = delete;
  BoundedIterator& operator=(const BoundedIterator&) = delete;

  rocksdb::Iterator* operator->() const { return it_.get(); }

 private:
  const std::string upper_;
  const rocksdb::Slice slice_;  // RocksDB reads the bound through it
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_ROCKS_DB_H_
