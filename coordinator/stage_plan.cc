#include "coordinator/stage_plan.h"

#include "absl/strings/str_cat.h"

namespace tessera::coordinator {

absl::StatusOr<StagePlan> PlanEvenSplit(int64_t n_layers, int n_workers,
                                        model::GgmlType format) {
  if (n_workers <= 0) return absl::InvalidArgumentError("no workers");
  if (n_workers > n_layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        n_workers, " workers for ", n_layers,
        " layers: every stage needs at least one layer"));
  }
  StagePlan plan;
  plan.planner = "even split";
  int64_t next = 0;
  for (int w = 0; w < n_workers; ++w) {
    StageAssignment stage;
    stage.worker = w;
    stage.first_layer = next;
    stage.end_layer = next + n_layers / n_workers + (w < n_layers % n_workers);
    stage.formats.assign(stage.end_layer - stage.first_layer, format);
    stage.has_embedding = w == 0;
    stage.has_head = w == n_workers - 1;
    next = stage.end_layer;
    plan.stages.push_back(stage);
  }
  return plan;
}

model::GgmlType HeadFormatFor(model::GgmlType layer_format) {
  if (layer_format == model::GgmlType::kF32 ||
      layer_format == model::GgmlType::kF16) {
    return layer_format;
  }
  return model::GgmlType::kQ8_0;
}

}  // namespace tessera::coordinator
