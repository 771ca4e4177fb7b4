// StageDp: the exact dynamic program at the heart of the planner (internal to
// the partitioner; searches over device orders drive it).
//
// A partial pipeline is summarised by a label: its request latency so far,
// its busiest closed stage or link (busy ms per request, see problem.h),
// and, for the stage still open, that stage's busy time and bytes; plus its
// quality cost. A stage's busy time per request is its share of the request
// latency, so both grow by the same lat_ms per layer. Labels at the same layer boundary are kept as a Pareto set: a label
// is dropped only when another is at least as good in every coordinate that
// matters (the objective is monotone in each), so the DP is exact:
// contiguous layer ranges x devices x formats, with the memory limit of each
// device and the global quality budget enforced exactly (no rounding).
//
// Coordinates that cannot matter are neutralised so that sets stay small:
// the ones the objective ignores are zero, and an open stage's bytes (or the
// quality cost) count as zero when even the largest format for every
// remaining layer would still fit the budget.
//
// If a set grows beyond `max_labels`, it is trimmed (keeping the best label
// per cell of a bytes x quality grid); the result is then no longer proven
// optimal and `trimmed()` says so.
//
// Lagrangian mode (lambda >= 0): the quality budget is not enforced; instead
// the quality cost is added to the request latency, priced so that the
// objective (linear in the latency) rises by exactly lambda * (quality
// cost): the exact Lagrangian for every objective. Quality leaves the
// labels, which keeps the sets small. Values, and the incumbent, are then
// penalised objectives. The caller searches lambda so that the plan meets
// the budget (lagrangian_search.h).
//
// Not thread-safe; one StageDp per search thread.
#ifndef TESSERA_PARTITIONER_STAGE_DP_H_
#define TESSERA_PARTITIONER_STAGE_DP_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "partitioner/plan.h"
#include "partitioner/problem.h"

namespace tessera::partitioner {

struct Label {
  double lat = 0;   // request latency so far
  // Busiest stage or link so far (ms per request), the open stage included:
  // max(closed, st). The bottleneck of any completion is max(busy, st +
  // more), so keeping st inside busy loses nothing and lets more labels
  // dominate.
  double busy = 0;
  double st = 0;    // open stage: busy ms per request
  double mem = 0;   // open stage: bytes
  double q = 0;     // quality cost so far
  double mem_key = 0;  // mem, or 0 when it can no longer matter
  double q_key = 0;    // q, or 0 when it can no longer matter
  int32_t step = -1;  // last layer decision in the StepArena, -1: none
};
using LabelSet = std::vector<Label>;

// One layer decision; `prev` links back to the previous layer's decision.
struct Step {
  int32_t prev;
  int16_t device;
  int16_t format;
};

// Decisions of all labels alive in a search. Grows and shrinks like a stack.
class StepArena {
 public:
  int32_t Add(int32_t prev, int device, int format) {
    steps_.push_back({prev, static_cast<int16_t>(device),
                      static_cast<int16_t>(format)});
    return static_cast<int32_t>(steps_.size() - 1);
  }
  size_t size() const { return steps_.size(); }
  void Truncate(size_t n) { steps_.resize(n); }
  // The stages of the pipeline whose last decision is `step`.
  std::vector<Stage> Reconstruct(int32_t step,
                                 const std::vector<model::GgmlType>& formats) const;

 private:
  std::vector<Step> steps_;
};

class StageDp {
 public:
  // REQUIRES: `problem` and `grid` outlive this object. lambda < 0: exact
  // mode; lambda >= 0: Lagrangian mode (see above).
  StageDp(const Problem& problem, const CostGrid& grid, size_t max_labels,
          double lambda = -1);

  // Runs a stage on `device` starting at every boundary a with labels
  // `incoming[a]` (links to `device` already added; for the first stage,
  // incoming[0] = {Label{}}), and returns in `closed[b]` (b = 1..L) the
  // labels of pipelines whose stage on `device` ends at b. Labels whose
  // lower bound reaches the incumbent are pruned.
  void ExtendColumn(int device, bool first, const std::vector<LabelSet>& incoming,
                    std::vector<LabelSet>& closed, StepArena& arena);

  // `label` (closed on `from`) followed by the link to `to`; false when there
  // is no usable link.
  bool AddLink(const Label& label, int from, int to, Label& out) const;
  // Objective of a pipeline closed at n_layers, adding the token return.
  double CompleteValue(const Label& label, int first_device, int last_device) const;

  // The best known value (penalised in Lagrangian mode): labels that cannot
  // beat it are dropped.
  void set_incumbent(double value) { incumbent_ = value; }
  // Stops extending (ExtendColumn returns partial sets) once this many label
  // comparisons have been made; exhausted() then says so.
  void set_work_limit(int64_t comparisons) { work_limit_ = comparisons; }
  bool exhausted() const { return work_ > work_limit_; }
  double incumbent() const { return incumbent_; }
  bool trimmed() const { return trimmed_; }
  // A lower bound on the objective of any completion of a label at
  // `boundary`, closed (open_device = -1) or open on `open_device`: the
  // cheapest way to run the remaining layers (within the remaining quality
  // budget), plus the stages and links that their bytes force.
  double LowerBound(const Label& label, int boundary, int open_device) const;

 private:
  static bool Dominates(const Label& a, const Label& b);
  void Insert(LabelSet& set, const Label& label);
  void Trim(LabelSet& set, int boundary, int device);
  void SetKeys(Label& l, int boundary, int device) const;
  Label Start(const Label& in, int device, bool first) const;
  bool Close(const Label& open, int device, bool first, int boundary,
             Label& out) const;
  void Advance(const LabelSet& open, int device, int layer, LabelSet& next,
               StepArena& arena);

  void ChooseMultipliers();
  void BuildSuffixBounds();
  void BuildStageBounds();
  // Fewest further stages that can hold `bytes` (0 for none; -1: impossible).
  int StagesFor(double bytes) const;
  double RestBound(const std::vector<std::vector<double>>& rest, int boundary,
                   double q) const;

  // ObjectiveValue, inlined (it runs for every candidate label); `busy` is
  // per request, ObjectiveValue's bottleneck per generated token.
  double Value(double lat, double busy) const {
    const double cycle = CycleMs(lat, busy / gen_, k_, gen_);
    switch (problem_.objective) {
      case Objective::kLatency: return lat;
      case Objective::kThroughput: return cycle;
      case Objective::kMix: return weight_ * lat / gen_ + (1 - weight_) * cycle;
    }
    return lat;
  }

  const Problem& problem_;
  const CostGrid& grid_;
  size_t max_labels_;
  double lambda_;
  double k_ = 1, weight_ = 0, gen_ = 1;  // k, w, G
  double pen_lat_ = 0;  // latency penalty per unit of quality
  bool use_busy_, use_q_;
  double incumbent_ = std::numeric_limits<double>::infinity();
  bool trimmed_ = false;
  int64_t work_ = 0;
  int64_t work_limit_ = std::numeric_limits<int64_t>::max();
  // Suffix sums over layers [i, L): largest bytes and quality of any format;
  // for multipliers mu_j (mu_0 = 0), the smallest latency plus mu_j *
  // quality of any device and format: rest_lat_[j][i].
  std::vector<double> rest_max_bytes_, rest_max_q_;
  std::vector<double> multipliers_;
  std::vector<std::vector<double>> rest_lat_;
  std::vector<double> end_bytes_;  // per device: most bytes closing can add
  double min_head_ms_ = 0;
  std::vector<double> rest_min_bytes_;  // smallest bytes of layers [i, L)
  std::vector<double> capacity_prefix_;  // sums of the largest stage capacities
  // Cheapest extra stage (link into it + its overheads) and token return;
  // least busy link (ms per request).
  double stage_lat_ = 0, return_lat_ = 0, link_busy_ = 0;
};

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_STAGE_DP_H_
