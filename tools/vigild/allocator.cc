#include "tools/vigild/allocator.h"

#include <dlfcn.h>

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"

#ifdef VIGIL_JEMALLOC
// jemalloc reads this at its first allocation (jemalloc(3), "TUNING"):
// - background_thread: a thread of jemalloc's own returns freed pages to
//   the kernel, not the threads that free them, and also while vigild is
//   idle (10,000 silent WebSocket connections stay under 100 MB RSS after
//   their keep-alive round, docs/live-feed.md);
// - dirty_decay_ms 1000, muzzy_decay_ms 0: freed pages go back after about
//   a second (jemalloc's default is 10 s) and at once past that.
// MALLOC_CONF in the environment is read after this and wins.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf =
    "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

namespace vigil {
namespace {

using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);

template <typename T>
bool Read(Mallctl mallctl, const char* name, T* value) {
  size_t size = sizeof(T);
  return mallctl(name, value, &size, nullptr, 0) == 0 && size == sizeof(T);
}

}  // namespace

std::string AllocatorDescription() {
  // Looked up, not linked: present only when jemalloc serves malloc.
  auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  const char* version = nullptr;
  if (mallctl == nullptr || !Read(mallctl, "version", &version)) {
    return "the C library's malloc";
  }
  bool background = false;
  ssize_t dirty_ms = -1;
  ssize_t muzzy_ms = -1;
  Read(mallctl, "opt.background_thread", &background);
  Read(mallctl, "opt.dirty_decay_ms", &dirty_ms);
  Read(mallctl, "opt.muzzy_decay_ms", &muzzy_ms);
  return absl::StrCat("jemalloc ", version, " (background_thread:",
                      background ? "true" : "false",
                      ",dirty_decay_ms:", dirty_ms,
                      ",muzzy_decay_ms:", muzzy_ms, ")");
}

}  // namespace vigil
