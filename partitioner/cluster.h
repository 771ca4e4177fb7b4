// Device and link profiles, and the workload: the hardware side of a planning
// problem. Plain value types; conversion from `configs/clusters/*.textproto`
// (tessera.v1.Cluster) happens at the edge, in the CLI.
//
// Units are in the field names. "Per format" figures are keyed by the
// execution format of a layer's weights: a device that lists no figure for a
// format cannot run layers in that format.
//
// Thread-safety: plain data; const access from any thread.
#ifndef TESSERA_PARTITIONER_CLUSTER_H_
#define TESSERA_PARTITIONER_CLUSTER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/ggml_types.h"

namespace tessera::partitioner {

// What one device can do, as measured (or taken from published figures).
struct FormatPerf {
  // Effective bytes of weights streamed per second while decoding one token
  // in this format (includes dequantisation cost; below the memory bus peak).
  double decode_bytes_per_s = 0;
  // Sustained FLOP/s on large matrix products (prefill) in this format.
  double prefill_flop_per_s = 0;
};

struct DeviceProfile {
  std::string name;              // unique within a cluster
  std::string backend = "cpu";   // "cpu", "opencl", "cuda", "metal", ...
  int64_t memory_budget_bytes = 0;  // what Tessera may use on this device
  double step_overhead_ms = 0;   // fixed cost of one forward step (launch, sync)
  std::map<model::GgmlType, FormatPerf> perf;

  bool Supports(model::GgmlType format) const { return perf.count(format); }
};

// One direction of a network path.
struct LinkProfile {
  std::string from;
  std::string to;
  double latency_ms = 0;          // one-way, for a small message
  double bandwidth_bytes_per_s = 0;
};

struct Cluster {
  std::string name;
  std::vector<DeviceProfile> devices;
  std::vector<LinkProfile> links;  // ordered pairs; later entries win
  // Used for every ordered pair without an explicit link (from/to ignored).
  std::optional<LinkProfile> default_link;
};

// Validates every field and names the offending one, e.g.
// "devices[1] (pixel-8).perf[q4_0].decode_bytes_per_s must be > 0, got 0" or
// "links[3].to: unknown device 'pi-9'". InvalidArgument on any error:
// no devices, empty or duplicate names, memory <= 0, a format without
// figures or with non-positive ones, negative overhead or latency, link
// bandwidth <= 0, links naming unknown or identical devices.
absl::Status ValidateCluster(const Cluster& cluster);

// The link from device index `from` to `to` (explicit, else the default).
// nullopt when neither exists: that ordered pair cannot be used.
// REQUIRES: both are valid device indices, from != to.
std::optional<LinkProfile> FindLink(const Cluster& cluster, int from, int to);

// How activations travel between stages.
enum class ActivationCodec { kF32, kF16, kQ8_0 };
const char* CodecName(ActivationCodec codec);
// Parses "f32", "f16", "q8_0". InvalidArgument otherwise.
absl::StatusOr<ActivationCodec> ParseCodec(absl::string_view name);

struct Workload {
  int64_t prompt_tokens = 512;
  int64_t gen_tokens = 128;
  int64_t concurrent_requests = 1;  // k: requests in flight (own KV each)
  ActivationCodec codec = ActivationCodec::kF16;
};

// InvalidArgument naming the field unless every count is >= 1.
absl::Status ValidateWorkload(const Workload& workload);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_CLUSTER_H_
