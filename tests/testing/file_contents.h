// Whole-file reads and writes for tests that look at what is on disk.

#ifndef VIGIL_TESTS_TESTING_FILE_CONTENTS_H_
#define VIGIL_TESTS_TESTING_FILE_CONTENTS_H_

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace vigil::testing {

// The bytes of `path`, or nullopt when it cannot be opened.
inline std::optional<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Replaces the contents of `path` (created if missing) with `data`.
inline void WriteFileBytes(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_FILE_CONTENTS_H_
