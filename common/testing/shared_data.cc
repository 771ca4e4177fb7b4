#include "common/testing/shared_data.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace tessera::testing {

std::string SharedPath(const std::string& relative) {
  const char* env = std::getenv("TESSERA_SHARED_DIR");
  std::string dir = (env != nullptr && env[0] != '\0') ? env
                                                       : TESSERA_SHARED_DIR;
  return dir + "/" + relative;
}

bool FileExists(const std::string& path) {
  return ::access(path.c_str(), R_OK) == 0;
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::string TempDir() {
  // Heap-allocated and never freed: the atexit handler runs after static
  // destructors would have run.
  static const std::string* const dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr ? base : "/tmp") + "/tessera_test_XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) return new std::string("/tmp");
    // Tests write models of tens of MB here: remove them at exit.
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(TempDir(), ignored);
    });
    return new std::string(made);
  }();
  return *dir;
}

}  // namespace tessera::testing
