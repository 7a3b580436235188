// Creating directories so that they survive a power cut. mkdir only changes
// the parent directory in the page cache; the new name is durable once the
// parent itself is fsynced (POSIX; ext4 and xfs commit it with their
// journal, a strict file system such as tools/lazyfs only then). Files
// written into the directory afterwards would be lost with it, however
// carefully each file was synced.

#ifndef VIGIL_BASE_DURABLE_DIR_H_
#define VIGIL_BASE_DURABLE_DIR_H_

#include <string>

#include "absl/status/status.h"

namespace vigil::base {

// Creates `dir` and any missing parents, fsyncing the parent of each
// directory it creates, innermost last. OK when `dir` already exists.
// UNAVAILABLE naming the path and the errno text otherwise.
absl::Status CreateDirectoriesDurably(const std::string& dir);

}  // namespace vigil::base

#endif  // VIGIL_BASE_DURABLE_DIR_H_
