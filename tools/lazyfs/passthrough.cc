#include "tools/lazyfs/passthrough.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

namespace vigil::lazyfs {
namespace {

// One open regular file.
struct Handle {
  int fd;
  FileId id;
  bool append;      // O_APPEND: every write goes to the end
  bool sync_writes; // O_SYNC / O_DSYNC: every write is an fdatasync too
};

// One open directory. Its DirId is taken at opendir: FUSE gives fsyncdir
// no path (nullpath_ok), and a rename must not change what is synced.
struct DirHandle {
  DIR* dir;
  std::optional<DirId> id;  // nullopt: not modelled (gone meanwhile)
};

// The handles the kernel has not released yet. A power cut ends the loop
// with files still open, and their RELEASE never comes: Destroy closes
// and frees what is left (LeakSanitizer reported them lost).
template <typename T>
class OpenHandles {
 public:
  uint64_t Add(T* handle) {
    std::lock_guard<std::mutex> lock(mu_);
    open_.insert(handle);
    return reinterpret_cast<uint64_t>(handle);
  }
  // Takes `fh` back from the registry; the caller closes and deletes it.
  T* Remove(uint64_t fh) {
    T* handle = reinterpret_cast<T*>(fh);
    std::lock_guard<std::mutex> lock(mu_);
    open_.erase(handle);
    return handle;
  }
  template <typename Close>
  void CloseAll(Close close) {
    std::lock_guard<std::mutex> lock(mu_);
    for (T* handle : open_) {
      close(*handle);
      delete handle;
    }
    open_.clear();
  }

 private:
  std::mutex mu_;
  std::unordered_set<T*> open_;
};

OpenHandles<Handle>& OpenFiles() {
  static auto* files = new OpenHandles<Handle>;
  return *files;
}
OpenHandles<DirHandle>& OpenDirs() {
  static auto* dirs = new OpenHandles<DirHandle>;
  return *dirs;
}

Backing& Self() {
  return *static_cast<Backing*>(fuse_get_context()->private_data);
}

// `path` relative to the backing directory's descriptor.
const char* Rel(const char* path) {
  return path[1] == '\0' ? "." : path + 1;
}

Handle* HandleOf(const fuse_file_info* fi) {
  return reinterpret_cast<Handle*>(fi->fh);
}

int Errno(int result) { return result < 0 ? -errno : result; }

// The backing file is always readable (SyncFile reads it) and never
// O_APPEND (writes carry their offset), O_DIRECT (buffers are not aligned)
// or O_SYNC (the daemon syncs its model, not the disk).
int BackingFlags(int flags) {
  flags &= ~(O_APPEND | O_DIRECT | O_SYNC | O_DSYNC | O_CREAT | O_EXCL);
  if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
  return flags | O_CLOEXEC;
}

int ReportSync(const absl::Status& status) {
  if (status.ok()) return 0;
  std::cerr << "vigil-lazyfs: " << status.message() << "\n";
  return -EIO;
}

void* Init(fuse_conn_info* conn, fuse_config* cfg) {
  // Writes must reach the daemon as they happen, not at writeback.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  cfg->use_ino = 1;
  cfg->nullpath_ok = 1;
  // Unlink really unlinks: no .fuse_hidden files in the namespace.
  cfg->hard_remove = 1;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  return fuse_get_context()->private_data;
}

// The loop has ended (unmount or power cut): what is still open goes.
void Destroy(void*) {
  OpenFiles().CloseAll([](Handle& handle) { close(handle.fd); });
  OpenDirs().CloseAll([](DirHandle& handle) { closedir(handle.dir); });
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* fi) {
  if (fi != nullptr) return Errno(fstat(HandleOf(fi)->fd, st));
  return Errno(fstatat(Self().root_fd, Rel(path), st, AT_SYMLINK_NOFOLLOW));
}

int Access(const char* path, int mask) {
  return Errno(faccessat(Self().root_fd, Rel(path), mask, 0));
}

int ReadLink(const char* path, char* buf, size_t size) {
  const ssize_t n = readlinkat(Self().root_fd, Rel(path), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

int OpenDir(const char* path, fuse_file_info* fi) {
  const int fd = openat(Self().root_fd, Rel(path),
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    const int error = errno;
    close(fd);
    return -error;
  }
  fi->fh = OpenDirs().Add(
      new DirHandle{.dir = dir, .id = Self().state->DirAt(path)});
  return 0;
}

// The whole directory in one call (offsets 0): the library keeps it.
int ReadDir(const char*, void* buf, fuse_fill_dir_t filler, off_t,
            fuse_file_info* fi, fuse_readdir_flags) {
  DIR* dir = reinterpret_cast<DirHandle*>(fi->fh)->dir;
  rewinddir(dir);
  errno = 0;
  while (dirent* entry = readdir(dir)) {
    struct stat st = {};
    st.st_ino = entry->d_ino;
    st.st_mode = DTTOIF(entry->d_type);
    if (filler(buf, entry->d_name, &st, 0, fuse_fill_dir_flags{}) != 0) break;
  }
  return -errno;
}

int ReleaseDir(const char*, fuse_file_info* fi) {
  DirHandle* handle = OpenDirs().Remove(fi->fh);
  closedir(handle->dir);
  delete handle;
  return 0;
}

int FsyncDir(const char*, int, fuse_file_info* fi) {
  const DirHandle& handle = *reinterpret_cast<DirHandle*>(fi->fh);
  if (handle.id.has_value()) Self().state->SyncDir(*handle.id);
  return 0;
}

int MkDir(const char* path, mode_t mode) {
  if (mkdirat(Self().root_fd, Rel(path), mode) != 0) return -errno;
  Self().state->OnMkdir(path);
  return 0;
}

int Unlink(const char* path) {
  if (unlinkat(Self().root_fd, Rel(path), 0) != 0) return -errno;
  Self().state->OnRemove(path);
  return 0;
}

int RmDir(const char* path) {
  if (unlinkat(Self().root_fd, Rel(path), AT_REMOVEDIR) != 0) return -errno;
  Self().state->OnRemove(path);
  return 0;
}

int SymLink(const char* target, const char* path) {
  if (symlinkat(target, Self().root_fd, Rel(path)) != 0) return -errno;
  Self().state->OnSymlink(path, target);
  return 0;
}

int Rename(const char* from, const char* to, unsigned int flags) {
  if (flags & RENAME_EXCHANGE) return -EINVAL;
  const int root = Self().root_fd;
  if (renameat2(root, Rel(from), root, Rel(to), flags) != 0) return -errno;
  Self().state->OnRename(from, to);
  return 0;
}

int Link(const char* from, const char* to) {
  const int root = Self().root_fd;
  if (linkat(root, Rel(from), root, Rel(to), 0) != 0) return -errno;
  Self().state->OnLink(from, to);
  return 0;
}

int ChMod(const char* path, mode_t mode, fuse_file_info* fi) {
  if (fi != nullptr) return Errno(fchmod(HandleOf(fi)->fd, mode));
  return Errno(fchmodat(Self().root_fd, Rel(path), mode, 0));
}

int ChOwn(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  if (fi != nullptr) return Errno(fchown(HandleOf(fi)->fd, uid, gid));
  return Errno(fchownat(Self().root_fd, Rel(path), uid, gid,
                        AT_SYMLINK_NOFOLLOW));
}

int Truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (fi != nullptr) {
    if (ftruncate(HandleOf(fi)->fd, size) != 0) return -errno;
    Self().state->OnTruncate(HandleOf(fi)->id, size);
    return 0;
  }
  const int fd = openat(Self().root_fd, Rel(path), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const int result = Errno(ftruncate(fd, size));
  close(fd);
  if (result == 0) Self().state->OnTruncate(Self().state->FileAt(path), size);
  return result;
}

int UTimeNs(const char* path, const timespec tv[2], fuse_file_info* fi) {
  if (fi != nullptr) return Errno(futimens(HandleOf(fi)->fd, tv));
  return Errno(
      utimensat(Self().root_fd, Rel(path), tv, AT_SYMLINK_NOFOLLOW));
}

// Open and create share the handle; O_TRUNC counts as a truncation to 0.
int OpenFile(const char* path, fuse_file_info* fi, bool create, mode_t mode) {
  const int fd = openat(Self().root_fd, Rel(path),
                        BackingFlags(fi->flags) | (create ? O_CREAT : 0) |
                            (fi->flags & O_EXCL),
                        mode);
  if (fd < 0) return -errno;
  DurableState& state = *Self().state;
  const FileId id = create ? state.OnCreate(path) : state.FileAt(path);
  if (fi->flags & O_TRUNC) state.OnTruncate(id, 0);
  fi->fh = OpenFiles().Add(
      new Handle{.fd = fd,
                 .id = id,
                 .append = (fi->flags & O_APPEND) != 0,
                 .sync_writes = (fi->flags & O_DSYNC) != 0});
  return 0;
}

int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  return OpenFile(path, fi, /*create=*/true, mode);
}

int Open(const char* path, fuse_file_info* fi) {
  return OpenFile(path, fi, /*create=*/false, 0);
}

int Read(const char*, char* buf, size_t size, off_t offset,
         fuse_file_info* fi) {
  const ssize_t n = pread(HandleOf(fi)->fd, buf, size, offset);
  return n < 0 ? -errno : static_cast<int>(n);
}

int Write(const char*, const char* buf, size_t size, off_t offset,
          fuse_file_info* fi) {
  const Handle& handle = *HandleOf(fi);
  if (handle.append) {
    struct stat st;
    if (fstat(handle.fd, &st) != 0) return -errno;
    offset = st.st_size;
  }
  const ssize_t n = pwrite(handle.fd, buf, size, offset);
  if (n < 0) return -errno;
  Self().state->OnWrite(handle.id, offset, n);
  if (handle.sync_writes) {
    const int synced = ReportSync(Self().state->SyncFile(handle.id, handle.fd));
    if (synced != 0) return synced;
  }
  return static_cast<int>(n);
}

int StatFs(const char*, struct statvfs* st) {
  return Errno(fstatvfs(Self().root_fd, st));
}

// As passthrough_fh: close a duplicate so the backing file system sees it.
int Flush(const char*, fuse_file_info* fi) {
  return Errno(close(dup(HandleOf(fi)->fd)));
}

int Release(const char*, fuse_file_info* fi) {
  Handle* handle = OpenFiles().Remove(fi->fh);
  close(handle->fd);
  delete handle;
  return 0;
}

int Fsync(const char*, int, fuse_file_info* fi) {
  const Handle& handle = *HandleOf(fi);
  return ReportSync(Self().state->SyncFile(handle.id, handle.fd));
}

int Fallocate(const char*, int mode, off_t offset, off_t length,
              fuse_file_info* fi) {
  const Handle& handle = *HandleOf(fi);
  if (fallocate(handle.fd, mode, offset, length) != 0) return -errno;
  // Allocation keeps the contents (a larger size reads as zeros, which the
  // sync's final size gives too); these modes change bytes.
  if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    Self().state->OnWrite(handle.id, offset, length);
  } else if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) {
    Self().state->OnWrite(handle.id, offset, UINT64_MAX - offset);
  }
  return 0;
}

fuse_operations MakeOperations() {
  fuse_operations ops = {};
  ops.init = Init;
  ops.destroy = Destroy;
  ops.getattr = GetAttr;
  ops.access = Access;
  ops.readlink = ReadLink;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.releasedir = ReleaseDir;
  ops.fsyncdir = FsyncDir;
  ops.mkdir = MkDir;
  ops.unlink = Unlink;
  ops.rmdir = RmDir;
  ops.symlink = SymLink;
  ops.rename = Rename;
  ops.link = Link;
  ops.chmod = ChMod;
  ops.chown = ChOwn;
  ops.truncate = Truncate;
  ops.utimens = UTimeNs;
  ops.create = Create;
  ops.open = Open;
  ops.read = Read;
  ops.write = Write;
  ops.statfs = StatFs;
  ops.flush = Flush;
  ops.release = Release;
  ops.fsync = Fsync;
  ops.fallocate = Fallocate;
  return ops;
}

}  // namespace

const fuse_operations& PassthroughOperations() {
  static const fuse_operations ops = MakeOperations();
  return ops;
}

}  // namespace vigil::lazyfs
