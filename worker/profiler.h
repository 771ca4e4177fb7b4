// Device profile of a worker: facts (cores, memory, backends) and measured
// microbenchmarks per weight format: decode bandwidth (weight bytes per
// second streamed through a dequantise + dot matrix-vector product) and
// prefill FLOP/s (the same matrix against 16 vectors at once). Results are
// cached in a text-format ProfileResponse file so a restarted worker answers
// at once. Thread-compatible (call from one thread at a time).
#ifndef TESSERA_WORKER_PROFILER_H_
#define TESSERA_WORKER_PROFILER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tessera/v1/worker.pb.h"

namespace tessera::worker {

struct DeviceFacts {
  int cpu_cores = 0;
  int64_t memory_bytes = 0;
};

DeviceFacts ReadDeviceFacts();

// Runs the microbenchmarks (about `budget` of wall time in total).
std::vector<v1::FormatBenchmark> RunFormatBenchmarks(absl::Duration budget);

// The profile of a worker emulating a device `slowdown` times slower than
// this host (tessera-worker --emulate-slowdown): `measured` with every
// benchmark's decode bytes/s and prefill FLOP/s divided by `slowdown`, and
// emulated_slowdown set, so that planners see the emulated device. Unchanged for slowdown == 1. Keep caching `measured`:
// the cache holds this host's real figures.
// REQUIRES: slowdown >= 1.
v1::ProfileResponse EmulatedProfile(v1::ProfileResponse measured,
                                    double slowdown);

// Loads the cached benchmarks from `path`; NotFound when absent,
// InvalidArgument when unparsable.
absl::StatusOr<v1::ProfileResponse> LoadProfileCache(const std::string& path);
absl::Status SaveProfileCache(const std::string& path,
                              const v1::ProfileResponse& profile);

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_PROFILER_H_
