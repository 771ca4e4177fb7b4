// Access to the read-only shared test data (../shared beside the project).
//
// Tests that need the data use TESSERA_REQUIRE_SHARED_FILE: it skips with the
// reason when the file is absent on a developer machine, and fails when the
// CI environment variable is "true" (CI must run every such test).
#ifndef TESSERA_COMMON_TESTING_SHARED_DATA_H_
#define TESSERA_COMMON_TESTING_SHARED_DATA_H_

#include <string>

#include "gtest/gtest.h"

namespace tessera::testing {

// Absolute path of `relative` under the shared data directory. The directory
// is TESSERA_SHARED_DIR from the environment if set, else the build default.
std::string SharedPath(const std::string& relative);

// True if the file exists and is readable.
bool FileExists(const std::string& path);

// True when running in CI (CI=true), where missing data is a failure.
bool InCi();

// A fresh, empty temporary directory for this test process.
std::string TempDir();

}  // namespace tessera::testing

#define TESSERA_REQUIRE_SHARED_FILE(path)                                  \
  do {                                                                     \
    if (!::tessera::testing::FileExists(path)) {                           \
      if (::tessera::testing::InCi()) {                                    \
        FAIL() << "shared test data missing in CI: " << (path);            \
      } else {                                                             \
        GTEST_SKIP() << "shared test data not present: " << (path);        \
      }                                                                    \
    }                                                                      \
  } while (0)

#endif  // TESSERA_COMMON_TESTING_SHARED_DATA_H_
