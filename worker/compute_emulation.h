// Compute emulation for a worker standing in for a slower device: after each
// batch the worker sleeps so that the batch takes `slowdown` times its host
// compute time in all.
//
// Host compute is noisy (page faults, cache misses, a neighbour on a shared
// machine), and multiplying it by a large slowdown (hundreds, to emulate a
// phone on a fast host) would turn a millisecond hiccup into seconds, which
// no real device of that speed shows. So after a short warm-up the host time
// a batch is charged is capped at kOutlierFactor times the smoothed time per
// row of batches of its size class (row counts within a factor of two),
// times its rows. The smoothed time follows real trends such as attention
// growing with the context, since a capped sample still raises it.
//
// Thread-safety: thread-compatible.
#ifndef TESSERA_WORKER_COMPUTE_EMULATION_H_
#define TESSERA_WORKER_COMPUTE_EMULATION_H_

#include <array>
#include <cstdint>

#include "absl/time/time.h"

namespace tessera::worker {

class ComputeEmulation {
 public:
  static constexpr double kOutlierFactor = 3;
  static constexpr int kWarmupSamples = 2;
  static constexpr double kSmoothing = 0.2;  // weight of the newest sample

  // slowdown >= 1; 1 emulates nothing.
  explicit ComputeEmulation(double slowdown);

  // How long to sleep after a batch of `rows` rows (>= 1) whose host
  // compute took `host`, and records the batch.
  absl::Duration ExtraTime(int64_t rows, absl::Duration host);

 private:
  struct SizeClass {
    int samples = 0;
    double us_per_row = 0;  // smoothed
  };
  static int ClassOf(int64_t rows);

  const double slowdown_;
  std::array<SizeClass, 64> classes_{};
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_COMPUTE_EMULATION_H_
