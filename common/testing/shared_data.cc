#include "common/testing/shared_data.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
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
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr ? base : "/tmp") + "/tessera_test_XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    return made != nullptr ? std::string(made) : std::string("/tmp");
  }();
  return dir;
}

}  // namespace tessera::testing
