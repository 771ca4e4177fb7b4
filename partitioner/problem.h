// Problem: everything the planner needs (model costs, cluster, workload,
// quality table, objective and budgets), and CostGrid: the problem turned
// into per-device, per-layer, per-format times and bytes, shared by the
// solver and by Evaluate so that both agree exactly.
//
// Time model (documented once, here):
//  - A layer in format f on device d: prefill = max(P * FLOPs / FLOP/s,
//    weights / bandwidth); one decode token = max(FLOPs / FLOP/s,
//    (weights + KV read) / bandwidth), with attention FLOPs and KV reads at
//    the average context (P+1)/2 for prefill and P + G/2 for decode.
//  - Each stage pays its device's step overhead once per forward step. The
//    last stage also runs the head (one token of logits per step).
//  - A link a->b costs latency + bytes / bandwidth: P activations after
//    prefill, one per decode step; the sampled token id (4 bytes) goes from
//    the last stage back to the first (when they differ) every step.
//  - TTFT = prefill of all stages + links + token return.
//    Decode ms/token (one stream) R = sum of stage decode times + links.
//    Request latency = TTFT + (G - 1) * R.
//  - k requests in flight are pipelined without batching. Per request, a
//    stage runs one prefill and G - 1 decode steps (the first token comes
//    out of the prefill), so it is busy for exactly its share of the request
//    latency: prefill + (G - 1) * decode, overheads and head included. A
//    link serialises P + G - 1 activations per request (LinkBusyMs), the
//    return path G token ids (ReturnBusyMs); latency does not occupy them.
//    With B = the busiest stage or link per request and L = the request
//    latency, max(L / k, B) would bound the time per request from below (k
//    in flight, each resource serving one at a time), but it ignores
//    queueing and was far too optimistic against the discrete-event
//    simulator (sim/des.h). We use the balanced-job estimate instead: a
//    request takes its own L plus, at worst, one bottleneck service of each
//    of the k - 1 others, so k requests finish every L + (k - 1) B and
//      cycle = (L / G + (k - 1) * B / G) / k  (ms per generated token,
//    all streams together; CycleMs in plan.h), throughput = 1000 / cycle.
//    k = 1 gives L / G, large k tends to B / G. Prefill is charged to
//    throughput: a stage light in decode but heavy in prefill can be the
//    bottleneck. Batching of decode steps is not modelled.
//  - Memory of a device: its layers' weights + KV for (P + G) tokens of each
//    of k requests + prefill scratch, + embedding on the first stage, + head
//    (+ one row of logits) on the last; tied embeddings are held once when
//    the same device holds both ends.
//
// Thread-safety: plain data after construction.
#ifndef TESSERA_PARTITIONER_PROBLEM_H_
#define TESSERA_PARTITIONER_PROBLEM_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/cluster.h"
#include "partitioner/cost_model.h"
#include "partitioner/quality.h"

namespace tessera::partitioner {

enum class Objective {
  kLatency,     // minimise request latency (TTFT + (G-1) * R), one stream
  kThroughput,  // minimise the cycle time with k requests in flight
  kMix,         // w * latency / G + (1 - w) * cycle (both ms per token)
};
const char* ObjectiveName(Objective objective);
absl::StatusOr<Objective> ParseObjective(absl::string_view name);

struct Problem {
  CostTable costs;
  Cluster cluster;
  Workload workload;
  QualityTable quality;  // aligned with costs.formats
  double quality_budget = std::numeric_limits<double>::infinity();
  Objective objective = Objective::kLatency;
  double latency_weight = 0.5;  // w, for kMix only
};

// Validates every part (cluster, workload, quality table, budget >= 0,
// weight in [0, 1], codec able to encode rows of `dim`). InvalidArgument
// naming the field.
absl::Status ValidateProblem(const Problem& problem);

// `problem` with format index `f` as the only candidate format.
// REQUIRES: 0 <= f < problem.costs.num_formats().
Problem RestrictToFormat(const Problem& problem, int f);

class CostGrid {
 public:
  struct DeviceFixed {
    double budget_bytes = 0;
    double overhead_ms = 0;   // per forward step
    double head_ms = 0;       // head for one token (prefill or decode)
    double embedding_bytes = 0;
    double head_bytes = 0;          // head when the first stage is elsewhere
    double head_bytes_shared = 0;   // head when this device holds both ends
    double stage_bytes = 0;         // scratch of any stage
    double last_stage_bytes = 0;    // extra scratch of the last stage
  };
  struct LinkCost {
    bool usable = false;
    double prefill_ms = 0;  // P activations
    double decode_ms = 0;   // one activation
    double busy_ms = 0;     // serialisation time of one activation
    double token_ms = 0;    // one token id (the return path)
    double token_busy_ms = 0;
  };

  // REQUIRES: ValidateProblem(problem).ok().
  static CostGrid Build(const Problem& problem);

  int num_devices() const { return num_devices_; }
  int num_layers() const { return num_layers_; }
  int num_formats() const { return num_formats_; }
  int64_t gen_tokens() const { return gen_tokens_; }
  int64_t concurrent_requests() const { return requests_; }

  bool supported(int d, int f) const { return supported_[d * num_formats_ + f]; }
  // Request-latency contribution of layer l in format f on device d.
  double lat_ms(int d, int l, int f) const { return lat_[Index(d, l, f)]; }
  double decode_ms(int d, int l, int f) const { return dec_[Index(d, l, f)]; }
  double prefill_ms(int d, int l, int f) const { return pre_[Index(d, l, f)]; }
  double bytes(int l, int f) const { return bytes_[l * num_formats_ + f]; }
  double quality(int l, int f) const { return quality_[l * num_formats_ + f]; }
  const DeviceFixed& device(int d) const { return devices_[d]; }
  const LinkCost& link(int from, int to) const {
    return links_[from * num_devices_ + to];
  }

  // Request-latency contribution of a stage's fixed costs (overheads, head),
  // of a link between stages and of the token return path.
  double StageLatMs(int d, bool last) const;
  double StageDecodeMs(int d, bool last) const;
  double LinkLatMs(int from, int to) const;
  double ReturnLatMs(int from, int to) const;
  // Busy time per request of a link between stages (P + G - 1 activations)
  // and of the token return path (G token ids): serialisation only.
  double LinkBusyMs(int from, int to) const;
  double ReturnBusyMs(int from, int to) const;
  // Fixed bytes of a stage on d (scratch, embedding, head, logits).
  double StageFixedBytes(int d, bool first, bool last) const;

 private:
  size_t Index(int d, int l, int f) const {
    return (static_cast<size_t>(d) * num_layers_ + l) * num_formats_ + f;
  }
  void BuildLayers(const Problem& p);
  void FillTimes(const Problem& p, int d, int f, const FormatPerf& perf);
  void BuildDevices(const Problem& p);
  void BuildLinks(const Problem& p);

  int num_devices_ = 0, num_layers_ = 0, num_formats_ = 0;
  int64_t prompt_tokens_ = 0, gen_tokens_ = 0, requests_ = 0;
  std::vector<bool> supported_;
  std::vector<double> lat_, dec_, pre_, bytes_, quality_;
  std::vector<DeviceFixed> devices_;
  std::vector<LinkCost> links_;
};

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_PROBLEM_H_
