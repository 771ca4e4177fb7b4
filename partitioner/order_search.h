// Searches over which devices take part and in what order, each driving the
// exact StageDp (layer ranges x formats) for the orders it considers.
//
//  - ExhaustiveSearch: depth-first over every ordered sequence of distinct
//    devices, extending the DP by one column (stage) per level, so sequences
//    sharing a prefix share its work. Interchangeable devices (identical
//    figures and links) are tried once per position, and branches whose lower
//    bound reaches the best plan found are cut. Exact when it completes
//    within `max_sequences` and `max_exact_label_work` (and the DP did not
//    trim).
//  - SolveOrder: for one fixed order, the best plan using order[0] as the
//    first stage and any subsequence of the rest (devices may be skipped;
//    at most `skip_window` - 1 between consecutive stages).
//  - HeuristicSearch (large clusters): SolveOrder on a few constructed
//    orders (fastest first, largest memory first, nearest-link chains), then
//    first-improvement local search (move a device to another position, swap
//    two non-interchangeable devices) within `max_order_evaluations`; plus
//    every device alone. Its gap is reported against lower_bound.h.
//
// Thread-safety: pure functions of their arguments.
#ifndef TESSERA_PARTITIONER_ORDER_SEARCH_H_
#define TESSERA_PARTITIONER_ORDER_SEARCH_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "partitioner/plan.h"
#include "partitioner/problem.h"

namespace tessera::partitioner {

struct SearchOptions {
  // Exhaustive order search for clusters of at most this many devices.
  int max_exact_devices = 8;
  // Stage columns the exhaustive search may build, and label comparisons it
  // may make, before giving up (the plan is then not proven optimal).
  int64_t max_sequences = 200000;
  int64_t max_exact_label_work = 400000000;
  // Pareto labels kept per DP state before trimming (see stage_dp.h), in
  // the exhaustive search and in the heuristic one (small: it runs often).
  size_t max_labels = 8192;
  size_t heuristic_max_labels = 12;
  size_t lagrangian_max_labels = 32;  // exhaustive searches inside lagrangian_search.h
  // Comparisons the exact-mode pass over the heuristic plan's devices may
  // spend (it sizes its label sets accordingly).
  int64_t refine_work = 30000000;
  // In the heuristic, a stage's predecessor lies at most this many positions
  // earlier in the order (devices between them are skipped).
  int heuristic_skip_window = 8;
  // Fixed-order DP runs the heuristic may spend.
  int64_t max_order_evaluations = 60;
};

struct SearchResult {
  bool found = false;
  double objective = std::numeric_limits<double>::infinity();
  std::vector<Stage> stages;
  bool complete = false;   // exhaustive search finished within its budget
  bool trimmed = false;    // some DP state was trimmed
  int64_t sequences = 0;   // stage columns built / orders evaluated
};

// Devices that can be swapped without changing any cost: class[i] is the
// smallest index of a device interchangeable with i.
std::vector<int> DeviceClasses(const CostGrid& grid);

// Each search returns only plans better than `incumbent` (a known plan's
// objective). lambda < 0: exact mode; lambda >= 0: the StageDp's Lagrangian
// mode, where objectives are penalised and the quality budget is not
// enforced (pass an infinite incumbent).
SearchResult ExhaustiveSearch(const Problem& problem, const CostGrid& grid,
                              const SearchOptions& options, double incumbent,
                              double lambda = -1);

SearchResult SolveOrder(const Problem& problem, const CostGrid& grid,
                        const std::vector<int>& order, size_t max_labels,
                        double incumbent, double lambda = -1,
                        int skip_window = std::numeric_limits<int>::max());

SearchResult HeuristicSearch(const Problem& problem, const CostGrid& grid,
                             const SearchOptions& options, double incumbent,
                             double lambda = -1);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_ORDER_SEARCH_H_
