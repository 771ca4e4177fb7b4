// Sampler: turns a logits vector into the next token id.
//
// Pipeline, in order: repetition penalty over the last `repeat_last_n`
// accepted tokens (positive logits divided by the penalty, negative ones
// multiplied) -> greedy argmax when temperature == 0 -> top-k -> softmax at
// the temperature -> top-p (smallest set with cumulative mass >= p) -> min-p
// (drop tokens below min_p x the top probability) -> draw.
//
// Draws use a 64-bit Mersenne Twister seeded with `seed` and a portable
// uniform (53 high bits), so a seed reproduces the same tokens on every
// platform. Not thread-safe: one Sampler per session.
#ifndef TESSERA_MODEL_SAMPLER_H_
#define TESSERA_MODEL_SAMPLER_H_

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace tessera::model {

struct SamplingParams {
  float temperature = 0.0f;    // 0 = greedy
  int32_t top_k = 0;           // 0 = off
  float top_p = 1.0f;          // 1 = off
  float min_p = 0.0f;          // 0 = off
  float repeat_penalty = 1.0f; // 1 = off
  int32_t repeat_last_n = 64;
  uint64_t seed = 0;
};

// InvalidArgument naming the field: temperature < 0, top_k < 0, top_p not in
// (0, 1], min_p not in [0, 1), repeat_penalty <= 0, repeat_last_n < 0.
absl::Status ValidateSamplingParams(const SamplingParams& params);

class Sampler {
 public:
  // REQUIRES: ValidateSamplingParams(params).ok()
  explicit Sampler(const SamplingParams& params);

  // Picks a token from `logits` (one value per vocabulary entry) and
  // records it in the repetition history. REQUIRES: !logits.empty().
  int32_t Sample(absl::Span<const float> logits);

  // Records a token (e.g. a prompt token) in the repetition history.
  void Accept(int32_t token);

 private:
  struct Candidate {
    int32_t id;
    float value;  // logit, then probability
  };
  void ApplyRepetitionPenalty(std::vector<float>& logits) const;
  int32_t Draw(const std::vector<Candidate>& candidates);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;
};

}  // namespace tessera::model

#endif  // TESSERA_MODEL_SAMPLER_H_
