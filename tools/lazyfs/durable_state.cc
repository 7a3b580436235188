#include "tools/lazyfs/durable_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace vigil::lazyfs {
namespace {

namespace fs = std::filesystem;

// The largest buffer a copy uses.
constexpr uint64_t kCopyChunkBytes = 1 << 20;

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Copies [offset, offset + length) of `from` to the same offsets of `to`,
// stopping early at the end of `from`.
absl::Status CopyRange(int from, int to, uint64_t offset, uint64_t length,
                       const std::string& to_path) {
  std::vector<char> buffer(std::min(length, kCopyChunkBytes));
  while (length > 0) {
    const ssize_t n = pread(from, buffer.data(),
                            std::min<uint64_t>(length, buffer.size()), offset);
    if (n < 0) return ErrnoError("read for", to_path);
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = pwrite(to, buffer.data() + done, n - done,
                               offset + done);
      if (w < 0) return ErrnoError("write", to_path);
      done += w;
    }
    offset += n;
    length -= n;
  }
  return absl::OkStatus();
}

// The path of `name` in directory `path`.
std::string ChildPath(const std::string& path, const std::string& name) {
  return path == "/" ? path + name : path + "/" + name;
}

bool IsUnder(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

DurableState::DurableState(std::string backing_dir, std::string state_dir)
    : backing_dir_(std::move(backing_dir)), state_dir_(std::move(state_dir)) {}

absl::StatusOr<std::unique_ptr<DurableState>> DurableState::Create(
    std::string backing_dir, std::string state_dir) {
  std::error_code error;
  if (!fs::is_directory(backing_dir, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("backing directory ", backing_dir, " is not a directory"));
  }
  if (fs::exists(state_dir, error)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state directory ", state_dir,
        " exists: a previous vigil-lazyfs did not finish; remove it"));
  }
  if (!fs::create_directories(fs::path(state_dir) / "files", error)) {
    return absl::InternalError(absl::StrCat(
        "cannot create state directory ", state_dir, ": ", error.message()));
  }
  const fs::path backing = fs::canonical(backing_dir);
  const fs::path state = fs::canonical(state_dir);
  if (IsUnder(state.string(), backing.string())) {
    fs::remove_all(state, error);
    return absl::InvalidArgumentError(absl::StrCat(
        "state directory ", state_dir, " is inside the backing directory"));
  }
  auto durable = std::unique_ptr<DurableState>(
      new DurableState(backing.string(), state.string()));
  std::map<std::pair<uint64_t, uint64_t>, FileId> inodes;
  absl::Status scanned = durable->Scan("/", 0, inodes);
  if (!scanned.ok()) {
    fs::remove_all(state, error);
    return scanned;
  }
  durable->live_dirs_ = durable->durable_dirs_;
  return durable;
}

absl::Status DurableState::Scan(
    const std::string& path, uint64_t dir_id,
    std::map<std::pair<uint64_t, uint64_t>, FileId>& inodes) {
  const std::string real = backing_dir_ + path;
  std::error_code error;
  Entries& durable = durable_dirs_[dir_id];
  for (const fs::directory_entry& entry : fs::directory_iterator(real, error)) {
    const std::string name = entry.path().filename().string();
    const std::string child = ChildPath(path, name);
    struct stat st;
    if (lstat(entry.path().c_str(), &st) != 0) {
      return ErrnoError("stat", entry.path().string());
    }
    Node node;
    if (S_ISREG(st.st_mode)) {
      node.kind = Kind::kFile;
      auto [it, is_new] = inodes.try_emplace({st.st_dev, st.st_ino}, next_id_);
      node.id = it->second;
      if (is_new) {
        NewFile(next_id_++);
        Fd from(open(entry.path().c_str(), O_RDONLY | O_CLOEXEC));
        if (from.get() < 0) return ErrnoError("open", entry.path().string());
        Fd to(open(DurablePath(node.id).c_str(),
                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (to.get() < 0) return ErrnoError("create", DurablePath(node.id));
        RETURN_IF_ERROR(CopyRange(from.get(), to.get(), 0, st.st_size,
                                  DurablePath(node.id)));
      }
    } else if (S_ISDIR(st.st_mode)) {
      node.kind = Kind::kDir;
      node.id = next_id_++;
      RETURN_IF_ERROR(Scan(child, node.id, inodes));
    } else if (S_ISLNK(st.st_mode)) {
      node.kind = Kind::kSymlink;
      node.target = fs::read_symlink(entry.path(), error).string();
      if (error) {
        return absl::InternalError(absl::StrCat(
            "readlink ", entry.path().string(), ": ", error.message()));
      }
    } else {
      continue;
    }
    durable[name] = node;
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot list ", real, ": ", error.message()));
  }
  return absl::OkStatus();
}

std::string DurableState::DurablePath(FileId id) const {
  return absl::StrCat(state_dir_, "/files/", id);
}

DurableState::FileState& DurableState::NewFile(FileId id) {
  return files_.try_emplace(id).first->second;
}

std::pair<DurableState::Entries*, std::string> DurableState::Parent(
    const std::string& path) {
  const size_t slash = path.rfind('/');
  std::string name = path.substr(slash + 1);
  if (slash == 0) return {&live_dirs_[0], std::move(name)};
  const Node* dir = Find(path.substr(0, slash));
  if (dir == nullptr || dir->kind != Kind::kDir) return {nullptr, name};
  return {&live_dirs_[dir->id], std::move(name)};
}

const DurableState::Node* DurableState::Find(const std::string& path) const {
  static const Node kRoot{.kind = Kind::kDir, .id = 0};
  const Node* node = &kRoot;
  for (size_t begin = 1; begin < path.size();) {
    size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    if (node->kind != Kind::kDir) return nullptr;
    auto dir = live_dirs_.find(node->id);
    if (dir == live_dirs_.end()) return nullptr;
    auto child = dir->second.find(path.substr(begin, end - begin));
    if (child == dir->second.end()) return nullptr;
    node = &child->second;
    begin = end + 1;
  }
  return node;
}

FileId DurableState::OnCreate(const std::string& path) {
  std::lock_guard lock(mu_);
  auto [parent, name] = Parent(path);
  if (parent == nullptr) return kNoFile;
  auto it = parent->find(name);
  if (it != parent->end() && it->second.kind == Kind::kFile) {
    return it->second.id;
  }
  const FileId id = next_id_++;
  NewFile(id);
  (*parent)[name] = Node{.kind = Kind::kFile, .id = id};
  return id;
}

void DurableState::OnMkdir(const std::string& path) {
  std::lock_guard lock(mu_);
  auto [parent, name] = Parent(path);
  if (parent == nullptr) return;
  const DirId id = next_id_++;
  (*parent)[name] = Node{.kind = Kind::kDir, .id = id};
  live_dirs_[id];
}

void DurableState::OnSymlink(const std::string& path,
                             const std::string& target) {
  std::lock_guard lock(mu_);
  auto [parent, name] = Parent(path);
  if (parent != nullptr) {
    (*parent)[name] = Node{.kind = Kind::kSymlink, .target = target};
  }
}

void DurableState::OnRemove(const std::string& path) {
  std::lock_guard lock(mu_);
  auto [parent, name] = Parent(path);
  if (parent == nullptr) return;
  auto it = parent->find(name);
  if (it == parent->end()) return;
  // A removed directory was empty; its durable entries stay.
  if (it->second.kind == Kind::kDir) live_dirs_.erase(it->second.id);
  parent->erase(it);
}

void DurableState::OnRename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  if (from == to) return;
  auto [from_parent, from_name] = Parent(from);
  auto [to_parent, to_name] = Parent(to);
  if (from_parent == nullptr || to_parent == nullptr) return;
  auto it = from_parent->find(from_name);
  if (it == from_parent->end()) return;
  Node node = std::move(it->second);
  from_parent->erase(it);
  auto replaced = to_parent->find(to_name);
  if (replaced != to_parent->end() && replaced->second.kind == Kind::kDir) {
    live_dirs_.erase(replaced->second.id);  // an empty directory
  }
  (*to_parent)[to_name] = std::move(node);
}

void DurableState::OnLink(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  const Node* node = Find(from);
  if (node == nullptr) return;
  const Node copy = *node;
  auto [parent, name] = Parent(to);
  if (parent != nullptr) (*parent)[name] = copy;
}

FileId DurableState::FileAt(const std::string& path) const {
  std::lock_guard lock(mu_);
  const Node* node = Find(path);
  return node != nullptr && node->kind == Kind::kFile ? node->id : kNoFile;
}

std::optional<DirId> DurableState::DirAt(const std::string& path) const {
  std::lock_guard lock(mu_);
  const Node* node = Find(path);
  if (node == nullptr || node->kind != Kind::kDir) return std::nullopt;
  return node->id;
}

void DurableState::OnWrite(FileId id, uint64_t offset, uint64_t length) {
  if (id == kNoFile) return;
  std::lock_guard lock(mu_);
  NewFile(id).dirty.Add(offset, offset + length);
}

void DurableState::OnTruncate(FileId id, uint64_t size) {
  if (id == kNoFile) return;
  std::lock_guard lock(mu_);
  FileState& file = NewFile(id);
  file.truncated_to = std::min(size, file.truncated_to.value_or(size));
}

absl::Status DurableState::SyncFile(FileId id, int fd) {
  if (id == kNoFile) return absl::OkStatus();
  FileState* file;
  DirtyRanges dirty;
  std::optional<uint64_t> truncated_to;
  {
    std::lock_guard lock(mu_);
    file = &NewFile(id);  // unordered_map nodes never move
  }
  std::lock_guard sync_lock(file->sync_mu);
  {
    // Writes that land from here on stay dirty for the next sync, even if
    // this one happens to copy them too.
    std::lock_guard lock(mu_);
    std::swap(dirty, file->dirty);
    std::swap(truncated_to, file->truncated_to);
  }
  auto copy = [&]() -> absl::Status {
    const std::string path = DurablePath(id);
    struct stat st;
    if (fstat(fd, &st) != 0) return ErrnoError("stat backing of", path);
    const uint64_t size = st.st_size;
    Fd durable(open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (durable.get() < 0) return ErrnoError("open", path);
    if (truncated_to.has_value() && ftruncate(durable.get(), *truncated_to)) {
      return ErrnoError("truncate", path);
    }
    for (const auto& [begin, end] : dirty.ranges()) {
      if (begin >= size) break;
      RETURN_IF_ERROR(CopyRange(fd, durable.get(), begin,
                                std::min(end, size) - begin, path));
    }
    if (ftruncate(durable.get(), size) != 0) return ErrnoError("size", path);
    return absl::OkStatus();
  };
  absl::Status status = copy();
  if (!status.ok()) {
    // Nothing was made durable for sure: keep it all for the next sync.
    std::lock_guard lock(mu_);
    for (const auto& [begin, end] : dirty.ranges()) file->dirty.Add(begin, end);
    if (truncated_to.has_value()) {
      file->truncated_to =
          std::min(*truncated_to, file->truncated_to.value_or(*truncated_to));
    }
  }
  return status;
}

void DurableState::SyncDir(DirId dir) {
  std::lock_guard lock(mu_);
  auto live = live_dirs_.find(dir);
  if (live != live_dirs_.end()) durable_dirs_[dir] = live->second;
}

absl::Status DurableState::Materialize() {
  std::error_code error;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(backing_dir_, error)) {
    fs::remove_all(entry.path(), error);
    if (error) {
      return absl::InternalError(absl::StrCat(
          "cannot remove ", entry.path().string(), ": ", error.message()));
    }
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot list ", backing_dir_, ": ", error.message()));
  }
  std::unordered_map<FileId, std::string> placed;
  std::unordered_set<uint64_t> dirs_placed = {0};
  RETURN_IF_ERROR(Place(0, backing_dir_, placed, dirs_placed));
  fs::remove_all(state_dir_, error);
  if (error) {
    return absl::InternalError(absl::StrCat(
        "cannot remove state directory ", state_dir_, ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status DurableState::Place(
    uint64_t dir_id, const std::string& real_dir,
    std::unordered_map<FileId, std::string>& placed,
    std::unordered_set<uint64_t>& dirs_placed) {
  auto entries = durable_dirs_.find(dir_id);
  if (entries == durable_dirs_.end()) return absl::OkStatus();
  for (const auto& [name, node] : entries->second) {
    const std::string target = real_dir + "/" + name;
    switch (node.kind) {
      case Kind::kFile: {
        auto done = placed.find(node.id);
        if (done != placed.end()) {
          if (link(done->second.c_str(), target.c_str()) != 0) {
            return ErrnoError("link", target);
          }
          break;
        }
        const std::string durable = DurablePath(node.id);
        std::error_code error;
        if (rename(durable.c_str(), target.c_str()) != 0) {
          // Another file system (--state-dir elsewhere), or never synced.
          if (errno == ENOENT) {
            Fd created(open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL |
                                                O_CLOEXEC, 0644));
            if (created.get() < 0) return ErrnoError("create", target);
          } else if (!fs::copy_file(durable, target, error)) {
            return absl::InternalError(absl::StrCat(
                "cannot copy ", durable, " to ", target, ": ",
                error.message()));
          }
        }
        placed[node.id] = target;
        break;
      }
      case Kind::kDir:
        if (!dirs_placed.insert(node.id).second) break;
        if (mkdir(target.c_str(), 0755) != 0) return ErrnoError("mkdir", target);
        RETURN_IF_ERROR(Place(node.id, target, placed, dirs_placed));
        break;
      case Kind::kSymlink:
        if (symlink(node.target.c_str(), target.c_str()) != 0) {
          return ErrnoError("symlink", target);
        }
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace vigil::lazyfs
