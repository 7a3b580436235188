// A fresh directory under $TMPDIR for one test, removed with everything in
// it when the object goes away.

#ifndef VIGIL_TESTS_TESTING_TEMP_DIR_H_
#define VIGIL_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace vigil::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vigil-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    // Traversable by others: as root, tests run PostgreSQL as `postgres`
    // in a subdirectory (the embedded cluster of a data directory).
    chmod(pattern.c_str(), 0711);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_TEMP_DIR_H_
