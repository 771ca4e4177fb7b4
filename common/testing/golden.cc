#include "common/testing/golden.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/mapped_file.h"
#include "common/testing/shared_data.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace tessera::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

absl::StatusOr<GoldenCase> ParseCase(const Value& value) {
  if (value.kind_case() != Value::kStructValue) {
    return absl::InvalidArgumentError("golden case is not an object");
  }
  const auto& f = value.struct_value().fields();
  GoldenCase c;
  if (!f.contains("prompt") || !f.contains("continuation") ||
      !f.contains("prompt_ids_with_bos") || !f.contains("new_tokens")) {
    return absl::InvalidArgumentError("golden case misses a field");
  }
  c.prompt = f.at("prompt").string_value();
  c.continuation = f.at("continuation").string_value();
  c.new_tokens = static_cast<int64_t>(f.at("new_tokens").number_value());
  for (const Value& id : f.at("prompt_ids_with_bos").list_value().values()) {
    c.prompt_ids_with_bos.push_back(static_cast<int32_t>(id.number_value()));
  }
  return c;
}

}  // namespace

absl::StatusOr<std::vector<GoldenCase>> LoadGoldenCases(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  Struct root;
  auto status = google::protobuf::util::JsonStringToMessage(*text, &root);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", status.ToString()));
  }
  if (!root.fields().contains("cases")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no cases"));
  }
  std::vector<GoldenCase> cases;
  for (const Value& v : root.fields().at("cases").list_value().values()) {
    absl::StatusOr<GoldenCase> c = ParseCase(v);
    if (!c.ok()) return c.status();
    cases.push_back(std::move(*c));
  }
  return cases;
}

std::string StoriesModelPath() {
  return SharedPath("models/stories260K.gguf");
}

std::string StoriesGoldenPath() {
  return SharedPath("golden/stories260K-greedy.json");
}

}  // namespace tessera::testing
