// The sampling flags shared by `tessera run`, `tessera generate` and
// `tessera-sim run`: --temp --seed --top-k --top-p --min-p --repeat-penalty.
#ifndef TESSERA_CLI_SAMPLING_FLAGS_H_
#define TESSERA_CLI_SAMPLING_FLAGS_H_

#include "absl/status/statusor.h"
#include "cli/args.h"
#include "model/sampler.h"

namespace tessera::cli {

void DeclareSamplingFlags(ArgParser& args);

// InvalidArgument naming the flag for out-of-range values.
absl::StatusOr<model::SamplingParams> SamplingFromFlags(const ArgParser& args);

}  // namespace tessera::cli

#endif  // TESSERA_CLI_SAMPLING_FLAGS_H_
