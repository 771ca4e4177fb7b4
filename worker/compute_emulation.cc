#include "worker/compute_emulation.h"

#include <algorithm>
#include <bit>

namespace tessera::worker {

ComputeEmulation::ComputeEmulation(double slowdown)
    : slowdown_(std::max(1.0, slowdown)) {}

int ComputeEmulation::ClassOf(int64_t rows) {
  return std::bit_width(static_cast<uint64_t>(std::max<int64_t>(rows, 1))) - 1;
}

absl::Duration ComputeEmulation::ExtraTime(int64_t rows, absl::Duration host) {
  if (slowdown_ <= 1) return absl::ZeroDuration();
  rows = std::max<int64_t>(rows, 1);
  SizeClass& size_class = classes_[ClassOf(rows)];
  double us = std::max(0.0, absl::ToDoubleMicroseconds(host));
  if (size_class.samples >= kWarmupSamples) {
    us = std::min(us, kOutlierFactor * size_class.us_per_row *
                          static_cast<double>(rows));
  }
  const double us_per_row = us / static_cast<double>(rows);
  size_class.us_per_row =
      size_class.samples == 0
          ? us_per_row
          : (1 - kSmoothing) * size_class.us_per_row + kSmoothing * us_per_row;
  ++size_class.samples;
  return (slowdown_ - 1) * absl::Microseconds(us);
}

}  // namespace tessera::worker
