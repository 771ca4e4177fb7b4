// The reference continuations in ../shared/golden/stories260K-greedy.json.
#ifndef TESSERA_COMMON_TESTING_GOLDEN_H_
#define TESSERA_COMMON_TESTING_GOLDEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::testing {

struct GoldenCase {
  std::string prompt;
  std::vector<int32_t> prompt_ids_with_bos;
  int64_t new_tokens = 0;
  std::string continuation;
};

// Parses the golden JSON file (via protobuf's JSON -> Struct).
absl::StatusOr<std::vector<GoldenCase>> LoadGoldenCases(
    const std::string& path);

// SharedPath of the stories260K model and of its golden file.
std::string StoriesModelPath();
std::string StoriesGoldenPath();

}  // namespace tessera::testing

#endif  // TESSERA_COMMON_TESTING_GOLDEN_H_
