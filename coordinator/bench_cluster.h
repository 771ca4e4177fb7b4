// Client-side measurements of a running Tessera cluster, for the
// `tessera bench-cluster` benchmark (figures, not tests): greedy Generate
// calls timed by the client and by the coordinator, several calls at once,
// the link between two workers, and prompts of an exact token length.
//
// Every figure comes from the public services (CoordinatorService.Generate,
// WorkerService.MeasureLink); nothing here reaches into a process.
//
// Thread-safety: BenchClient is thread-safe (its stub is); the free
// functions are thread-compatible.
#ifndef TESSERA_COORDINATOR_BENCH_CLUSTER_H_
#define TESSERA_COORDINATOR_BENCH_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/tokenizer.h"
#include "tessera/v1/coordinator.grpc.pb.h"

namespace tessera::coordinator {

// One finished greedy Generate call.
struct GenerateResult {
  int32_t prompt_tokens = 0;
  int32_t generated_tokens = 0;
  v1::FinishReason finish_reason = v1::FINISH_REASON_UNSPECIFIED;
  double time_to_first_token_ms = 0;  // the coordinator's measurement
  double decode_tok_s = 0;  // coordinator: tokens after the first / time
  absl::Duration wall;      // the client's, call start to stream end
  // Per stage, summed over the decode steps (the prefill is not counted).
  std::vector<v1::StageStats> stages;

  // Decode steps the stage sums cover: every sampled token after the first,
  // including a final end-of-generation token (which is not "generated").
  int64_t decode_steps() const;
  // Activation payload bytes sent between stages per decode step.
  double wire_bytes_per_token() const;
  // Compute and codec time of all stages per decode step, microseconds.
  double stage_us_per_token() const;
  double codec_us_per_token() const;
  // Time of a decode step not spent computing or coding in a stage (the
  // hops, the coordinator, scheduling), microseconds; 0 without figures.
  double step_overhead_us() const;
};

// `requests` calls run at the same time.
struct ConcurrentResult {
  int requests = 0;
  int64_t generated_tokens = 0;  // over all calls
  absl::Duration wall;           // first call started to last one ended
  double aggregate_tok_s() const;
  std::vector<GenerateResult> calls;
};

class BenchClient {
 public:
  // Insecure channel to `coordinator_address`; each call gets `timeout` and
  // carries `token` (may be empty).
  BenchClient(const std::string& coordinator_address, std::string token,
              absl::Duration timeout);

  // One greedy call of `max_new_tokens`. The call's status on failure;
  // Internal when the stream ends without a final message.
  absl::StatusOr<GenerateResult> Generate(const std::string& prompt,
                                          int max_new_tokens) const;

  // One call per prompt, all started at once (one thread each). The first
  // failure of any call on error.
  absl::StatusOr<ConcurrentResult> GenerateConcurrently(
      const std::vector<std::string>& prompts, int max_new_tokens) const;

 private:
  std::unique_ptr<v1::CoordinatorService::Stub> stub_;
  const std::string token_;
  const absl::Duration timeout_;
};

// The link from worker `from` to worker `to`, measured by `from`.
struct HopFigures {
  double round_trip_us = 0;     // median of `round_trips` empty probes
  double one_way_us = 0;        // round_trip_us / 2
  double bytes_per_second = 0;  // with `payload_bytes` each way
};
absl::StatusOr<HopFigures> MeasureHop(const std::string& from,
                                      const std::string& to,
                                      const std::string& token, int round_trips,
                                      int64_t payload_bytes);

// A text of plain English words (deterministic for `seed`) that `tokenizer`
// encodes, with its default BOS, into exactly `tokens` tokens where words
// can reach it, else into the largest count below it that they reach.
// InvalidArgument when `tokens` < 2 or no text of at most `tokens` tokens
// exists.
absl::StatusOr<std::string> PromptOfTokens(const model::Tokenizer& tokenizer,
                                           int64_t tokens, uint64_t seed);

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_BENCH_CLUSTER_H_
