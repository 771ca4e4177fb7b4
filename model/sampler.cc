#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace tessera::model {

absl::Status ValidateSamplingParams(const SamplingParams& p) {
  if (!(p.temperature >= 0)) {
    return absl::InvalidArgumentError("temperature must be >= 0");
  }
  if (p.top_k < 0) return absl::InvalidArgumentError("top-k must be >= 0");
  if (!(p.top_p > 0 && p.top_p <= 1)) {
    return absl::InvalidArgumentError("top-p must be in (0, 1]");
  }
  if (!(p.min_p >= 0 && p.min_p < 1)) {
    return absl::InvalidArgumentError("min-p must be in [0, 1)");
  }
  if (!(p.repeat_penalty > 0)) {
    return absl::InvalidArgumentError("repeat-penalty must be > 0");
  }
  if (p.repeat_last_n < 0) {
    return absl::InvalidArgumentError("repeat-last-n must be >= 0");
  }
  return absl::OkStatus();
}

Sampler::Sampler(const SamplingParams& params)
    : params_(params), rng_(params.seed) {
  CHECK(ValidateSamplingParams(params).ok());
}

void Sampler::Accept(int32_t token) {
  if (params_.repeat_last_n == 0) return;
  history_.push_back(token);
  while (static_cast<int32_t>(history_.size()) > params_.repeat_last_n) {
    history_.pop_front();
  }
}

void Sampler::ApplyRepetitionPenalty(std::vector<float>& logits) const {
  if (params_.repeat_penalty == 1.0f) return;
  std::unordered_set<int32_t> seen(history_.begin(), history_.end());
  for (int32_t id : seen) {
    if (id < 0 || id >= static_cast<int32_t>(logits.size())) continue;
    float& l = logits[id];
    l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
  }
}

int32_t Sampler::Draw(const std::vector<Candidate>& candidates) {
  double total = 0;
  for (const Candidate& c : candidates) total += c.value;
  // 53 random bits -> uniform in [0, 1), identical on every platform.
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);
  double target = u * total;
  for (const Candidate& c : candidates) {
    target -= c.value;
    if (target < 0) return c.id;
  }
  return candidates.back().id;
}

int32_t Sampler::Sample(absl::Span<const float> raw_logits) {
  std::vector<float> logits(raw_logits.begin(), raw_logits.end());
  ApplyRepetitionPenalty(logits);
  int32_t token;
  if (params_.temperature == 0.0f) {
    token = static_cast<int32_t>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
    Accept(token);
    return token;
  }
  std::vector<Candidate> cands(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    cands[i] = {static_cast<int32_t>(i), logits[i]};
  }
  auto by_value = [](const Candidate& a, const Candidate& b) {
    return a.value > b.value || (a.value == b.value && a.id < b.id);
  };
  size_t keep = cands.size();
  if (params_.top_k > 0) keep = std::min<size_t>(keep, params_.top_k);
  std::partial_sort(cands.begin(), cands.begin() + keep, cands.end(), by_value);
  cands.resize(keep);
  // Softmax at the temperature (candidates are sorted, cands[0] is the max).
  const float max_logit = cands[0].value;
  double total = 0;
  for (Candidate& c : cands) {
    c.value = std::exp((c.value - max_logit) / params_.temperature);
    total += c.value;
  }
  for (Candidate& c : cands) c.value = static_cast<float>(c.value / total);
  if (params_.top_p < 1.0f) {
    double mass = 0;
    size_t n = 0;
    while (n < cands.size() && mass < params_.top_p) mass += cands[n++].value;
    cands.resize(std::max<size_t>(n, 1));
  }
  if (params_.min_p > 0.0f) {
    const float floor = params_.min_p * cands[0].value;
    size_t n = 1;
    while (n < cands.size() && cands[n].value >= floor) ++n;
    cands.resize(n);
  }
  token = Draw(cands);
  Accept(token);
  return token;
}

}  // namespace tessera::model
