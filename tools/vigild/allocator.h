// The memory allocator vigild runs on. Unless built with a sanitizer (which
// brings its own), vigild is linked with jemalloc (Debian's libjemalloc2,
// tools/CMakeLists.txt), configured by the `malloc_conf` string in
// allocator.cc: background purging, freed pages returned after about a
// second. Measured against glibc's malloc in benchmarks/RESULTS.md ("The
// memory allocator"): glibc's spent a quarter of vigild's CPU in malloc
// and free on the append and OTLP paths.

#ifndef VIGIL_TOOLS_VIGILD_ALLOCATOR_H_
#define VIGIL_TOOLS_VIGILD_ALLOCATOR_H_

#include <string>

namespace vigil {

// "jemalloc <version> (<settings>)" when jemalloc serves malloc in this
// process, else "the C library's malloc"; for the start-up log.
std::string AllocatorDescription();

}  // namespace vigil

#endif  // VIGIL_TOOLS_VIGILD_ALLOCATOR_H_
