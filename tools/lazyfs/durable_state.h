// What a power cut would leave of the file system mounted by vigil-lazyfs:
// the model behind tools/lazyfs (README.md there).
//
// Every operation goes to the backing directory at once; DurableState only
// keeps the books. It names each regular file by a FileId of its own (not
// the backing inode number, which is reused after an unlink) and follows
// the live namespace (a tree of directories by DirId, name -> file,
// directory or symlink) through create, rename, unlink and link. Per FileId it keeps the bytes made durable
// (a file in the state directory) and the ranges written since the last
// fsync; per directory, the entries that a power cut would keep, which
// change only when that directory is fsynced. Materialize() rebuilds the
// backing directory as exactly that durable state.
//
// Paths are the mount's absolute paths as FUSE gives them ("/", "/a/b").
// Thread-safe: FUSE worker threads call every method but Materialize()
// concurrently; one mutex guards the books, and file data is copied
// outside it under a per-file sync mutex.

#ifndef VIGIL_TOOLS_LAZYFS_DURABLE_STATE_H_
#define VIGIL_TOOLS_LAZYFS_DURABLE_STATE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/lazyfs/dirty_ranges.h"

namespace vigil::lazyfs {

// 0 is no file (a handle on something that is not a regular file).
using FileId = uint64_t;
inline constexpr FileId kNoFile = 0;
// Directories have ids of their own too (from the same counter), so that a
// renamed directory keeps its durable entries; the root is 0.
using DirId = uint64_t;

class DurableState {
 public:
  // Takes everything in `backing_dir` as durable: copies its regular files
  // into `state_dir`/files (which must not exist yet; it is created).
  // Regular files, directories and symlinks are modelled; other entries
  // are left out of the durable state (a power cut removes them).
  static absl::StatusOr<std::unique_ptr<DurableState>> Create(
      std::string backing_dir, std::string state_dir);

  // --- The live namespace, after the backing operation succeeded. ---
  // A regular file at `path`: its FileId, a new one unless `path` already
  // was a file (open with O_CREAT of an existing file).
  FileId OnCreate(const std::string& path);
  void OnMkdir(const std::string& path);
  void OnSymlink(const std::string& path, const std::string& target);
  // unlink and rmdir.
  void OnRemove(const std::string& path);
  // Moves `from` (a directory with everything in it) to `to`, replacing
  // what `to` named.
  void OnRename(const std::string& from, const std::string& to);
  // A hard link: `to` names the same file as `from`.
  void OnLink(const std::string& from, const std::string& to);
  // The file at `path`, or kNoFile.
  FileId FileAt(const std::string& path) const;
  // The directory at `path` (the root is 0), or nullopt.
  std::optional<DirId> DirAt(const std::string& path) const;

  // --- File contents. ---
  void OnWrite(FileId id, uint64_t offset, uint64_t length);
  void OnTruncate(FileId id, uint64_t size);
  // fsync/fdatasync: the durable bytes of `id` become the backing file's,
  // read through `fd` (readable). Copies only what was written since the
  // last sync.
  absl::Status SyncFile(FileId id, int fd);
  // fsync of a directory (opened as DirAt gave it): its durable entries
  // become its live ones. A removed directory has nothing to sync.
  void SyncDir(DirId dir);

  // After unmount (no other call may run): rebuilds the backing directory
  // as exactly the durable namespace with the durable bytes, then removes
  // the state directory.
  absl::Status Materialize();

 private:
  enum class Kind { kFile, kDir, kSymlink };
  struct Node {
    Kind kind;
    uint64_t id = 0;     // FileId or DirId
    std::string target;  // symlinks
  };
  struct FileState {
    DirtyRanges dirty;
    std::optional<uint64_t> truncated_to;  // smallest size since the sync
    std::mutex sync_mu;                    // one SyncFile at a time
  };
  using Entries = std::map<std::string, Node>;  // name -> node
  // The live directory holding `path` and the last name of `path`, or a
  // null directory when a component is missing. REQUIRES mu_.
  std::pair<Entries*, std::string> Parent(const std::string& path);
  const Node* Find(const std::string& path) const;  // REQUIRES mu_

  DurableState(std::string backing_dir, std::string state_dir);
  // Takes the backing directory at `path` (DirId `dir_id`) as durable;
  // `inodes` gives hard links found earlier their FileId.
  absl::Status Scan(const std::string& path, uint64_t dir_id,
                    std::map<std::pair<uint64_t, uint64_t>, FileId>& inodes);
  // Creates the durable entries of `dir_id` under `real_dir`. A file
  // already `placed` is hard-linked; a directory already placed (moved
  // between two durable parents) is skipped.
  absl::Status Place(uint64_t dir_id, const std::string& real_dir,
                     std::unordered_map<FileId, std::string>& placed,
                     std::unordered_set<uint64_t>& dirs_placed);
  std::string DurablePath(FileId id) const;
  FileState& NewFile(FileId id);  // REQUIRES mu_

  const std::string backing_dir_;
  const std::string state_dir_;
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;  // FileIds and DirIds; the root is 0
  std::unordered_map<DirId, Entries> live_dirs_;
  std::unordered_map<DirId, Entries> durable_dirs_;
  std::unordered_map<FileId, FileState> files_;
};

}  // namespace vigil::lazyfs

#endif  // VIGIL_TOOLS_LAZYFS_DURABLE_STATE_H_
