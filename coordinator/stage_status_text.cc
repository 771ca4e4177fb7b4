#include "coordinator/stage_status_text.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_join.h"
#include "model/ggml_types.h"

namespace tessera::coordinator {

std::string StageFormatsText(const v1::StageStatus& stage) {
  std::vector<std::string> names;
  for (int f : stage.layer_formats()) {
    names.push_back(model::TypeName(static_cast<model::GgmlType>(f)));
  }
  if (!names.empty() &&
      std::all_of(names.begin(), names.end(),
                  [&](const std::string& n) { return n == names[0]; })) {
    return names[0];
  }
  return absl::StrJoin(names, ",");
}

}  // namespace tessera::coordinator
