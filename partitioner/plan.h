// Plan: ordered pipeline stages (device, contiguous layer range, format of
// each layer, who holds the embedding and the head) and its predictions;
// Evaluate: the one place where a plan's predictions are computed from the
// cost model (see problem.h for the time model).
//
// Thread-safety: plain data and pure functions.
#ifndef TESSERA_PARTITIONER_PLAN_H_
#define TESSERA_PARTITIONER_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/ggml_types.h"
#include "partitioner/problem.h"

namespace tessera::partitioner {

struct Stage {
  int device = 0;           // index into Problem::cluster.devices
  int64_t first_layer = 0;  // layers [first_layer, end_layer)
  int64_t end_layer = 0;
  std::vector<model::GgmlType> formats;  // one per layer of the range
  bool holds_embedding = false;  // first stage
  bool holds_head = false;       // last stage
};

struct Predictions {
  std::vector<int64_t> memory_bytes;  // per device of the cluster (0: unused)
  double ttft_ms = 0;
  double decode_ms_per_token = 0;  // one stream
  double request_latency_ms = 0;   // TTFT + (G - 1) * decode
  double cycle_ms = 0;             // ms per token with k requests in flight
  double throughput_tokens_per_s = 0;
  // Busiest stage or link per generated token, prefill share included.
  double bottleneck_ms = 0;
  double quality_cost = 0;
  double objective = 0;            // the problem's objective (lower = better)
  bool fits = false;               // memory and quality budgets respected
  std::string violation;           // why not, when !fits
};

struct Plan {
  std::string method;  // how it was found ("exhaustive search", ...)
  std::vector<Stage> stages;
  Predictions predictions;
  bool optimal = false;       // proven optimal by exhaustive search
  double lower_bound = 0;     // on the objective of any plan
  int64_t orders_evaluated = 0;  // device sequences / orders the search tried
  bool labels_trimmed = false;   // the format DP dropped labels to stay fast
};

// The cycle time (ms per generated token with k requests in flight) from a
// request's latency and the busiest stage or link per generated token:
// (L / G + (k - 1) * bottleneck) / k (see problem.h). Inline: the DP calls
// it for every label.
inline double CycleMs(double request_latency_ms, double bottleneck_ms,
                      double k, double gen_tokens) {
  return (request_latency_ms / gen_tokens + (k - 1) * bottleneck_ms) / k;
}

// The objective value from its ingredients (lower is better).
double ObjectiveValue(const Problem& problem, double request_latency_ms,
                      double bottleneck_ms);

// Sets holds_embedding on the first stage and holds_head on the last.
void MarkEnds(std::vector<Stage>& stages);

// Predictions for `stages` (holds_* flags are not read: the first stage
// holds the embedding, the last the head).
// InvalidArgument when the stages are not a valid pipeline: empty, not
// contiguous from layer 0 to n_layers, an empty stage, a device used twice or
// unknown, a format list of the wrong length, a format outside the candidate
// list or not supported by the device, or no link between consecutive stages.
// A plan over a memory or quality budget is valid: fits == false.
absl::StatusOr<Predictions> Evaluate(const Problem& problem,
                                     const CostGrid& grid,
                                     const std::vector<Stage>& stages);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_PLAN_H_
