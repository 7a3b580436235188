#include "eventlog/internal/rocks_db.h"

#include <algorithm>
#include <filesystem>

#include "eventlog/internal/codec.h"

namespace vigil::eventlog::internal {

rocksdb::Status RocksDb::Open(const rocksdb::Options& rocks,
                              const std::string& dir,
                              std::unique_ptr<RocksDb>* out) {
  return OpenFamilies(rocks, dir, nullptr, out);
}

rocksdb::Status RocksDb::OpenAsSecondary(const rocksdb::Options& rocks,
                                         const std::string& dir,
                                         const std::string& secondary_dir,
                                         std::unique_ptr<RocksDb>* out) {
  return OpenFamilies(rocks, dir, &secondary_dir, out);
}

rocksdb::Status RocksDb::OpenFamilies(const rocksdb::Options& rocks,
                                      const std::string& dir,
                                      const std::string* secondary_dir,
                                      std::unique_ptr<RocksDb>* out) {
  // The families on disk decide the layout; a new log gets the split one.
  std::vector<std::string> names;
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec)) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocks, dir, &names);
    if (!s.ok()) return s;
  } else {
    names = {rocksdb::kDefaultColumnFamilyName, kIndexFamily};
  }
  const bool split =
      std::find(names.begin(), names.end(), kIndexFamily) != names.end();
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) {
    rocksdb::ColumnFamilyOptions family(rocks);
    if (split && name == rocksdb::kDefaultColumnFamilyName) {
      // Records are flushed in position order into files that never
      // overlap, and RocksDB moves them down the levels unchanged, unless
      // the bottommost level asks for another compression: then it rewrites
      // every file to recompress it. One compression for all levels keeps
      // the records' write amplification at 1 (measured with the log's key
      // mix: no compaction writes, against every record file rewritten once
      // with zstd at the bottom). Records stay LZ4-compressed.
      family.bottommost_compression = rocksdb::kDisableCompressionOption;
    }
    families.emplace_back(name, family);
  }
  rocksdb::DBOptions db_options(rocks);
  db_options.create_missing_column_families = secondary_dir == nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      secondary_dir == nullptr
          ? rocksdb::DB::Open(db_options, dir, families, &handles, &raw)
          : rocksdb::DB::OpenAsSecondary(db_options, dir, *secondary_dir,
                                         families, &handles, &raw);
  if (!s.ok()) return s;
  std::unique_ptr<RocksDb> db(new RocksDb());
  db->db_.reset(raw);
  db->handles_ = std::move(handles);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == rocksdb::kDefaultColumnFamilyName) db->records_ = db->handles_[i];
    if (names[i] == kIndexFamily) db->index_ = db->handles_[i];
  }
  if (db->index_ == nullptr) db->index_ = db->records_;  // the old layout
  *out = std::move(db);
  return rocksdb::Status::OK();
}

RocksDb::~RocksDb() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

rocksdb::ColumnFamilyHandle* RocksDb::For(std::string_view key) const {
  return !key.empty() && key[0] == kRecordPrefix ? records_ : index_;
}

}  // namespace vigil::eventlog::internal
