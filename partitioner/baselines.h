// The baselines every plan is compared with:
//  - even split: every device of the cluster, in file order, gets the same
//    number of layers (the first ones one more when it does not divide);
//  - memory-proportional split: layer counts proportional to each device's
//    memory budget, largest remainders first (what exo and llama.cpp's
//    tensor split do);
//  - uniform quantisation: Tessera's own search (devices, order, split), but
//    every layer in the same format.
// The two splits run every layer in one format: the candidate format that
// gives the best objective among those that fit memory and the quality
// budget under that split (the best a user of that split method can pick),
// or, when none fits, the smallest one (and the plan says it does not fit).
//
// Thread-safety: pure functions.
#ifndef TESSERA_PARTITIONER_BASELINES_H_
#define TESSERA_PARTITIONER_BASELINES_H_

#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/order_search.h"
#include "partitioner/plan.h"
#include "partitioner/problem.h"

namespace tessera::partitioner {

// Layer counts per device (0 = unused) for the two splits; sums to n_layers.
std::vector<int64_t> EvenCounts(int64_t n_layers, int num_devices);
std::vector<int64_t> ProportionalCounts(int64_t n_layers,
                                        const std::vector<double>& weights);

// Stages for `counts` with every layer in `format` (devices in index order).
std::vector<Stage> StagesFromCounts(const std::vector<int64_t>& counts,
                                    model::GgmlType format);

// The even and memory-proportional baselines. FailedPrecondition when no
// candidate format can be used by every device of the split, or a link
// between consecutive devices is missing.
absl::StatusOr<Plan> EvenSplitBaseline(const Problem& problem, const CostGrid& grid);
absl::StatusOr<Plan> MemoryProportionalBaseline(const Problem& problem,
                                                const CostGrid& grid);

// The best uniform-format plan found by Tessera's search (over the formats
// within the quality budget). NotFound when no uniform format fits.
absl::StatusOr<Plan> UniformFormatBaseline(const Problem& problem,
                                           const SearchOptions& options);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_BASELINES_H_
