#include "eventlog/internal/snapshot_store.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "eventlog/internal/codec.h"

namespace vigil::eventlog::internal {
namespace {

absl::Status CheckSnapshotName(std::string_view name) {
  if (name.empty() || name.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "a snapshot name is empty or holds a NUL byte");
  }
  return absl::OkStatus();
}

// Versions of one key stepped through before seeking its last version at
// or before a position (ReadEntries, Scan).
constexpr int kStepVersions = 4;

// Just past every entry of snapshot `name`.
std::string SnapshotUpperBound(std::string_view name) {
  std::string upper = SnapshotEntryPrefix(name, "");
  upper.back() = '\1';
  return upper;
}

}  // namespace

absl::Status SnapshotStore::Write(
    std::string_view name, uint64_t position,
    const std::vector<EventLog::SnapshotEntry>& changed) {
  RETURN_IF_ERROR(CheckSnapshotName(name));
  if (position == 0 || position > head_->Get()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot position ", position, " is not in 1..head ", head_->Get()));
  }
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  if (db_->write_failed()) {
    return absl::UnavailableError(
        "snapshot not written: the event log failed a write and is not "
        "reopened yet (a full disk?)");
  }
  const RocksDb& rocks = *db_->rocks();
  // The batch's buffer sized once: grown by doubling, its copies cost as
  // much as the write itself for a snapshot of thousands of entries.
  size_t batch_bytes = 64;
  for (const auto& [key, value] : changed) {
    batch_bytes += 32 + name.size() + key.size() + value.size();
  }
  rocksdb::WriteBatch batch(batch_bytes);
  std::string position_bytes;
  PutBigEndian64(&position_bytes, position);
  std::string raw;
  for (const auto& [key, value] : changed) {
    if (key.empty() || key.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          "a snapshot key is empty or holds a NUL byte");
    }
    raw = SnapshotEntryPrefix(name, key);
    raw.push_back('\0');
    raw.append(position_bytes);
    batch.Put(rocks.index(), raw, value).PermitUncheckedError();
  }
  batch.Put(rocks.index(), SnapshotKey(name, position), "")
      .PermitUncheckedError();
  absl::Status written =
      FromRocks(rocks.db()->Write({}, &batch), "writing a snapshot");
  if (!written.ok()) db_->MarkWriteFailed();
  return written;
}

absl::StatusOr<uint64_t> SnapshotStore::Find(std::string_view name,
                                             uint64_t position) const {
  RETURN_IF_ERROR(CheckSnapshotName(name));
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  const std::string prefix =
      SnapshotKey(name, 0).substr(0, 1 + name.size() + 1);
  const RocksDb& rocks = *db_->rocks();
  std::unique_ptr<rocksdb::Iterator> it(
      rocks.db()->NewIterator({}, rocks.index()));
  it->SeekForPrev(SnapshotKey(name, position));
  RETURN_IF_ERROR(FromRocks(it->status(), "finding a snapshot"));
  if (!it->Valid() || !it->key().starts_with(prefix) ||
      it->key().size() != prefix.size() + 8) {
    return 0;
  }
  return GetBigEndian64(it->key().ToStringView().substr(prefix.size()));
}

absl::StatusOr<std::optional<std::string>> SnapshotStore::ReadEntry(
    std::string_view name, uint64_t position, std::string_view key) const {
  ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> values,
                   ReadEntries(name, position, {std::string(key)}));
  return std::move(values.front());
}

absl::StatusOr<std::vector<std::optional<std::string>>>
SnapshotStore::ReadEntries(std::string_view name, uint64_t position,
                           const std::vector<std::string>& keys) const {
  RETURN_IF_ERROR(CheckSnapshotName(name));
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  const RocksDb& rocks = *db_->rocks();
  BoundedIterator it(rocks, rocks.index(), SnapshotUpperBound(name));
  std::vector<std::optional<std::string>> values(keys.size());
  // In key order, forward: the versions of one key are adjacent, by
  // position, so the next wanted key is often a few steps on, in the data
  // block the iterator holds; a step is far cheaper than a seek (a seek in
  // every level of the tree). A key with many versions, or one far on, is
  // sought as Scan seeks.
  constexpr int kStepKeys = 16;  // steps towards the next key, then a seek
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::string prefix;
  std::string target;
  bool positioned = false;
  size_t previous = keys.size();  // none
  for (const size_t i : order) {
    if (previous < keys.size() && keys[previous] == keys[i]) {
      values[i] = values[previous];
      continue;
    }
    previous = i;
    prefix = SnapshotEntryPrefix(name, keys[i]);
    prefix.push_back('\0');
    if (keys.size() == 1) {  // one seek, straight to the version
      target = prefix;
      PutBigEndian64(&target, position);
      it->SeekForPrev(target);
      RETURN_IF_ERROR(FromRocks(it->status(), "reading a snapshot"));
      if (it->Valid() && it->key().starts_with(prefix) &&
          it->key().size() == prefix.size() + 8) {
        values[i] = it->value().ToString();
      }
      break;
    }
    int steps = 0;
    while (positioned && it->Valid() && it->key().compare(prefix) < 0 &&
           steps++ < kStepKeys) {
      it->Next();
    }
    if (!positioned || (it->Valid() && it->key().compare(prefix) < 0)) {
      it->Seek(prefix);
      positioned = true;
    }
    int versions = 0;
    while (it->Valid() && it->key().starts_with(prefix) &&
           it->key().size() == prefix.size() + 8) {
      const uint64_t version =
          GetBigEndian64(it->key().ToStringView().substr(prefix.size()));
      if (version > position) break;  // the rest of this key is too new
      if (++versions > kStepVersions) {
        target = prefix;
        PutBigEndian64(&target, position);
        it->SeekForPrev(target);  // this key's last version <= position
        values[i] = it->value().ToString();
        target.resize(prefix.size());
        target.append(8, '\xff');
        it->Seek(target);  // past this key, forward again
        break;
      }
      values[i] = it->value().ToString();
      it->Next();
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "reading a snapshot"));
  }
  return values;
}

absl::Status SnapshotStore::Scan(
    std::string_view name, uint64_t position, std::string_view key_prefix,
    const std::function<void(std::string_view key, std::string_view value)>&
        visit) const {
  RETURN_IF_ERROR(CheckSnapshotName(name));
  absl::ReaderMutexLock db_lock(&db_->mu());
  RETURN_IF_ERROR(db_->CheckOpen());
  const std::string start = SnapshotEntryPrefix(name, key_prefix);
  const size_t key_begin = 1 + name.size() + 1;
  const RocksDb& rocks = *db_->rocks();
  BoundedIterator it(rocks, rocks.index(), SnapshotUpperBound(name));
  // Versions of one key are adjacent, by position. A key with few
  // versions is stepped through; after kStepVersions of them the scan
  // seeks to its last version at or before `position`, then past the key.
  std::string current_key;
  std::string current_value;
  bool have = false;
  int stepped = 0;
  std::string target;
  it->Seek(start);
  while (it->Valid()) {
    const std::string_view raw = it->key().ToStringView();
    if (!raw.starts_with(start) || raw.size() < key_begin + 9) break;
    const std::string_view key =
        raw.substr(key_begin, raw.size() - key_begin - 9);
    const uint64_t version = GetBigEndian64(raw.substr(raw.size() - 8));
    if (key != current_key) {
      if (have) visit(current_key, current_value);
      have = false;
      stepped = 0;
      current_key.assign(key);
    }
    if (version > position) {  // the rest of this key is too new
      target.assign(raw.substr(0, raw.size() - 8));
      target.append(8, '\xff');
      it->Seek(target);
      continue;
    }
    if (++stepped > kStepVersions) {
      target.assign(raw.substr(0, raw.size() - 8));
      PutBigEndian64(&target, position);
      it->SeekForPrev(target);  // this key's last version <= position
      current_value.assign(it->value().ToStringView());
      have = true;
      target.resize(target.size() - 8);
      target.append(8, '\xff');
      it->Seek(target);
      continue;
    }
    current_value.assign(it->value().ToStringView());
    have = true;
    it->Next();
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scanning a snapshot"));
  if (have) visit(current_key, current_value);
  return absl::OkStatus();
}

}  // namespace vigil::eventlog::internal
