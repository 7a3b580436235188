// vigil-lazyfs BACKING_DIR MOUNT_POINT [--state-dir DIR]
//
// Mounts BACKING_DIR at MOUNT_POINT in the foreground and keeps only what
// was made durable (README.md). Unmounting (umount, fusermount3 -u) or
// SIGTERM/SIGINT is the power cut: the backing directory is then rebuilt
// as what fsync and directory fsync made durable, and the program exits 0.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tools/lazyfs/durable_state.h"
#include "tools/lazyfs/passthrough.h"

namespace {

constexpr char kUsage[] =
    "usage: vigil-lazyfs BACKING_DIR MOUNT_POINT [--state-dir DIR]\n"
    "  Mounts BACKING_DIR at MOUNT_POINT (FUSE, foreground, root only) and\n"
    "  keeps only what fsync/fdatasync and directory fsync made durable.\n"
    "  The mount is up when statfs(MOUNT_POINT) reports FUSE (0x65735546).\n"
    "  Power cut: umount MOUNT_POINT (or SIGTERM); the backing directory is\n"
    "  then rebuilt as the durable state and the program exits 0.\n"
    "  --state-dir DIR  where the durable copies live while mounted (must\n"
    "                   not exist; default: .NAME.lazyfs-state beside\n"
    "                   BACKING_DIR)\n";

int Usage(const std::string& error) {
  std::cerr << "vigil-lazyfs: " << error << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  std::string state_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--state-dir") {
      if (++i == argc) return Usage("--state-dir needs a directory");
      state_dir = argv[i];
    } else if (arg.starts_with("-")) {
      return Usage("unknown flag " + arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) {
    return Usage("expected BACKING_DIR and MOUNT_POINT");
  }
  std::error_code error;
  const std::filesystem::path backing =
      std::filesystem::absolute(positional[0], error).lexically_normal();
  std::string mount_point = positional[1];
  // A mount inside its own backing directory would pass through to itself.
  const std::filesystem::path canonical_mount =
      std::filesystem::weakly_canonical(mount_point, error);
  const std::filesystem::path canonical_backing =
      std::filesystem::weakly_canonical(backing, error);
  const auto [differs, _] =
      std::mismatch(canonical_backing.begin(), canonical_backing.end(),
                    canonical_mount.begin(), canonical_mount.end());
  if (differs == canonical_backing.end()) {
    return Usage("MOUNT_POINT must not be BACKING_DIR or inside it");
  }
  if (state_dir.empty()) {
    const std::filesystem::path name =
        backing.has_filename() ? backing.filename()
                               : backing.parent_path().filename();
    state_dir = (backing.has_filename() ? backing.parent_path()
                                        : backing.parent_path().parent_path()) /
                ("." + name.string() + ".lazyfs-state");
  }

  auto state = vigil::lazyfs::DurableState::Create(backing.string(), state_dir);
  if (!state.ok()) {
    std::cerr << "vigil-lazyfs: " << state.status().message() << "\n";
    return 1;
  }
  vigil::lazyfs::Backing self{
      .root_fd = open(backing.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC),
      .state = state->get()};
  if (self.root_fd < 0) {
    std::cerr << "vigil-lazyfs: cannot open " << backing << "\n";
    return 1;
  }

  // fsname makes the mount easy to find in /proc/mounts.
  std::vector<std::string> arg_strings = {
      argv[0], "-o", "fsname=vigil-lazyfs,subtype=vigil-lazyfs"};
  std::vector<char*> fuse_argv;
  for (std::string& arg : arg_strings) fuse_argv.push_back(arg.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(fuse_argv.size()),
                                    fuse_argv.data());
  const fuse_operations& ops = vigil::lazyfs::PassthroughOperations();
  fuse* session = fuse_new(&args, &ops, sizeof(ops), &self);
  if (session == nullptr || fuse_mount(session, mount_point.c_str()) != 0) {
    if (session != nullptr) fuse_destroy(session);
    fuse_opt_free_args(&args);
    close(self.root_fd);
    std::filesystem::remove_all(state_dir, error);  // nothing to cut
    std::cerr << "vigil-lazyfs: cannot mount " << mount_point << "\n";
    return 1;
  }
  // Mounted: however the loop ends (unmount, SIGTERM, SIGINT, SIGHUP), the
  // power is cut and the durable state materialized.
  fuse_set_signal_handlers(fuse_get_session(session));
  fuse_loop_mt(session, /*clone_fd=*/0);
  fuse_remove_signal_handlers(fuse_get_session(session));
  fuse_unmount(session);
  fuse_destroy(session);
  // fuse_new reallocates `args` as it parses them (LeakSanitizer found the
  // copy leaked): they are ours to free, after the session, as libfuse's
  // fuse_main does.
  fuse_opt_free_args(&args);
  close(self.root_fd);
  absl::Status materialized = (*state)->Materialize();
  if (!materialized.ok()) {
    std::cerr << "vigil-lazyfs: " << materialized.message() << "\n";
    return 1;
  }
  return 0;
}
