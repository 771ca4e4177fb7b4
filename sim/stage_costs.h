// StageCosts: what one pipeline stage costs per forward step, split into the
// parts that batching treats differently, derived from the partitioner's
// cost model (partitioner/problem.h documents the time model). For a batch
// of b decode tokens each layer costs max(b * compute, weights + b * kv):
// weights are streamed once per step whatever the batch, compute and KV
// reads grow with it. With b == 1 this is exactly CostGrid's decode time.
//
// Thread-safety: plain data and pure functions.
#ifndef TESSERA_SIM_STAGE_COSTS_H_
#define TESSERA_SIM_STAGE_COSTS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/plan.h"
#include "partitioner/problem.h"

namespace tessera::sim {

struct LayerDecodeCost {
  double compute_ms = 0;  // one token at the average decode context
  double weights_ms = 0;  // streaming the layer's weights once
  double kv_ms = 0;       // reading one token's KV cache
};

struct StageCosts {
  int device = 0;
  double overhead_ms = 0;  // once per forward step
  double prefill_ms = 0;   // one whole prompt, overhead and head included
  std::vector<LayerDecodeCost> layers;
  bool has_head = false;
  double head_compute_ms = 0;  // per token
  double head_weights_ms = 0;  // once per step

  // One decode step of `batch` tokens. REQUIRES: batch >= 1.
  double DecodeMs(int batch) const;
};

// Costs of every stage of `stages` under `problem` (validated by
// partitioner::Evaluate first: InvalidArgument for an invalid pipeline).
absl::StatusOr<std::vector<StageCosts>> BuildStageCosts(
    const partitioner::Problem& problem,
    const std::vector<partitioner::Stage>& stages);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_STAGE_COSTS_H_
