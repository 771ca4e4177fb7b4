// A discrete-event simulator of Tessera's pipeline: requests flow through
// the stages of a plan event by event. Each stage is one server (FIFO): a
// prefill runs alone, and decode steps of different sessions that wait at a
// stage together run as one batch (up to `max_batch`), paying the weights
// once (StageCosts::DecodeMs). Each link is a FIFO server too: a message
// occupies it for bytes / bandwidth, then arrives after the latency plus a
// Gaussian jitter (seeded, clamped at zero). The sampled token goes from the
// last stage back to the first, which starts the session's next decode step.
// Requests are all ready at time 0; at most `concurrency` are in flight.
//
// With one request and no jitter the results equal the cost model's closed
// forms: TTFT = sum of prefills + links + token return, each later token
// one round of decode steps + links (partitioner/problem.h).
//
// Thread-safety: Simulate is a pure function.
#ifndef TESSERA_SIM_DES_H_
#define TESSERA_SIM_DES_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/cluster_config.h"
#include "sim/stage_costs.h"

namespace tessera::sim {

struct DesOptions {
  int64_t requests = 16;
  int64_t concurrency = 8;   // sessions in flight
  int64_t prompt_tokens = 512;
  int64_t gen_tokens = 128;
  int max_batch = 8;         // decode steps batched per stage step
  int64_t activation_bytes_per_token = 0;
  uint64_t seed = 1;
  // Busy intervals kept for the timeline chart (the first ones).
  size_t max_intervals = 4000;
};

// A stage's busy period, for the timeline.
struct BusyInterval {
  int stage = 0;
  double start_ms = 0;
  double end_ms = 0;
  bool prefill = false;
  int batch = 1;
};

struct DesResult {
  double makespan_ms = 0;
  double tokens_per_s = 0;          // all generated tokens / makespan
  double mean_ttft_ms = 0;
  double p95_latency_ms = 0;        // request latency
  double mean_latency_ms = 0;
  double decode_tokens_per_s = 0;   // per stream: (G-1) / (latency - TTFT), mean
  double mean_batch = 0;            // decode tokens per decode step
  std::vector<double> stage_utilisation;  // busy / makespan per stage
  int64_t events = 0;
  std::vector<BusyInterval> timeline;
};

// `stages` and `links` describe the pipeline: links[i] carries stage i's
// output to stage i+1; links.back() carries the token from the last stage
// back to the first (ignored with one stage). InvalidArgument when the
// sizes disagree or an option is out of range (requests, concurrency,
// prompt, gen, max_batch < 1; activation bytes < 0).
absl::StatusOr<DesResult> Simulate(const std::vector<StageCosts>& stages,
                                   const std::vector<SimLink>& links,
                                   const DesOptions& options);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_DES_H_
