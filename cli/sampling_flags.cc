#include "cli/sampling_flags.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tessera::cli {

void DeclareSamplingFlags(ArgParser& args) {
  args.Float("temp", 0.0, "temperature (0 = greedy)");
  args.Int("seed", 0, "random seed for sampling");
  args.Int("top-k", 0, "keep the k most likely tokens (0 = off)");
  args.Float("top-p", 1.0, "nucleus sampling mass (1 = off)");
  args.Float("min-p", 0.0, "drop tokens below min-p x top probability");
  args.Float("repeat-penalty", 1.0, "repetition penalty (1 = off)");
  args.Int("repeat-last-n", 64, "tokens the repetition penalty looks back");
}

absl::StatusOr<model::SamplingParams> SamplingFromFlags(const ArgParser& args) {
  model::SamplingParams p;
  p.temperature = static_cast<float>(args.GetFloat("temp"));
  p.seed = static_cast<uint64_t>(args.GetInt("seed"));
  if (args.GetInt("top-k") < 0 || args.GetInt("top-k") > (1 << 30)) {
    return absl::InvalidArgumentError("--top-k must be >= 0");
  }
  p.top_k = static_cast<int32_t>(args.GetInt("top-k"));
  p.top_p = static_cast<float>(args.GetFloat("top-p"));
  p.min_p = static_cast<float>(args.GetFloat("min-p"));
  p.repeat_penalty = static_cast<float>(args.GetFloat("repeat-penalty"));
  if (args.GetInt("repeat-last-n") < 0 ||
      args.GetInt("repeat-last-n") > (1 << 20)) {
    return absl::InvalidArgumentError("--repeat-last-n must be >= 0");
  }
  p.repeat_last_n = static_cast<int32_t>(args.GetInt("repeat-last-n"));
  absl::Status status = model::ValidateSamplingParams(p);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", status.message()));
  }
  return p;
}

}  // namespace tessera::cli
