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

}  // namespace vigil::eventlog::internal

#endif  // VIGIL_EVENTLOG_INTERNAL_ROCKS_DB_H_
