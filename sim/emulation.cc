#include "sim/emulation.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tessera::sim {

std::vector<std::string> WorkerEmulation::Flags(InProcessLink in_process) const {
  std::vector<std::string> flags = {
      "--memory-budget", absl::StrCat(memory_budget_bytes),
      "--emulate-slowdown", absl::StrCat(slowdown)};
  if (link.empty() || in_process == InProcessLink::kNone) return flags;
  if (in_process == InProcessLink::kAll) {
    flags.insert(flags.end(), {"--emulate-link", link});
  } else if (egress.latency_ms > 0 || egress.jitter_ms > 0) {
    // MBPS 0: unlimited; the kernel limits the bandwidth.
    flags.insert(flags.end(),
                 {"--emulate-link", absl::StrCat(egress.latency_ms, ":0:",
                                                 egress.jitter_ms)});
  }
  return flags;
}

double DeviceDecodeBytesPerSecond(const v1::DeviceProfile& device) {
  double best = 0;
  for (const auto& perf : device.perf()) {
    if (perf.format() == v1::TENSOR_FORMAT_F16) return perf.decode_bytes_per_s();
    best = std::max(best, perf.decode_bytes_per_s());
  }
  return best;
}

absl::StatusOr<std::vector<WorkerEmulation>> PlanEmulation(
    const SimCluster& cluster, double host_bytes_per_s) {
  if (!(host_bytes_per_s > 0)) {
    return absl::InvalidArgumentError("host speed must be > 0");
  }
  const int n = cluster.proto.devices_size();
  std::vector<WorkerEmulation> out;
  for (int i = 0; i < n; ++i) {
    const v1::DeviceProfile& d = cluster.proto.devices(i);
    WorkerEmulation w;
    w.device = d.name();
    w.memory_budget_bytes = d.memory_budget_bytes();
    w.device_bytes_per_s = DeviceDecodeBytesPerSecond(d);
    if (!(w.device_bytes_per_s > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("device ", d.name(), " has no decode speed"));
    }
    w.slowdown = std::max(1.0, host_bytes_per_s / w.device_bytes_per_s);
    if (n > 1) {
      const SimLink& l = cluster.link(i, (i + 1) % n);
      w.egress = l;
      w.link = absl::StrCat(l.latency_ms, ":", l.bandwidth_bytes_per_s * 8 / 1e6,
                            ":", l.jitter_ms);
    }
    out.push_back(std::move(w));
  }
  return out;
}

double MeasureHostBytesPerSecond() {
  std::vector<float> data(8 << 20, 1.0f);  // 32 MiB
  double best = 0;
  volatile float sink = 0;
  for (int round = 0; round < 3; ++round) {
    const absl::Time start = absl::Now();
    float sum = 0;
    for (float v : data) sum += v * 0.5f;
    sink = sink + sum;
    const double s = absl::ToDoubleSeconds(absl::Now() - start);
    if (s > 0) best = std::max(best, 4.0 * data.size() / s);
  }
  return best;
}

}  // namespace tessera::sim
