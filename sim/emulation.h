// Emulating a cluster of the catalogue on this host: one real worker per
// device, each slowed to the device's speed (tessera-worker
// --emulate-slowdown) and sending over links delayed like the cluster's
// (--emulate-link). Pipeline order is the cluster's device order; the last
// stage's tokens return over the link to the first device (as in sim/des.h).
//
// Thread-safety: pure functions, except MeasureHostBytesPerSecond.
#ifndef TESSERA_SIM_EMULATION_H_
#define TESSERA_SIM_EMULATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/cluster_config.h"

namespace tessera::sim {

// Which part of a worker's link its own process emulates (the rest, if
// any, is the kernel's: sim/netns.h).
enum class InProcessLink {
  kAll,          // latency, jitter and bandwidth (loopback mode)
  kLatencyOnly,  // latency and jitter; bandwidth by tc tbf
  kNone,         // everything by tc netem
};

struct WorkerEmulation {
  std::string device;
  int64_t memory_budget_bytes = 0;
  double slowdown = 1;         // >= 1
  double device_bytes_per_s = 0;
  std::string link;            // LAT_MS:MBPS:JITTER_MS, empty for none
  SimLink egress;              // the same link (usable = false for none)
  // tessera-worker flags for all of the above, the link's as `in_process`
  // says.
  std::vector<std::string> Flags(
      InProcessLink in_process = InProcessLink::kAll) const;
};

// The device's decode speed used for emulation: its F16 figure (the
// closest to f32 models), else its fastest.
double DeviceDecodeBytesPerSecond(const v1::DeviceProfile& device);

// Per device of `cluster`, in order. slowdown = host / device speed,
// clamped at 1 (a device faster than this host cannot be emulated).
// InvalidArgument for host_bytes_per_s <= 0 or a device without speeds.
absl::StatusOr<std::vector<WorkerEmulation>> PlanEmulation(
    const SimCluster& cluster, double host_bytes_per_s);

// Times a short f32 dot product over a buffer larger than the caches
// (about 0.1 s): the bytes per second this host streams in decode.
double MeasureHostBytesPerSecond();

}  // namespace tessera::sim

#endif  // TESSERA_SIM_EMULATION_H_
