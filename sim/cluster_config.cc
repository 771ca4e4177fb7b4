#include "sim/cluster_config.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "common/text_proto.h"

namespace tessera::sim {
namespace {

namespace pt = ::tessera::partitioner;
using model::GgmlType;

pt::LinkProfile LinkFromProto(const v1::LinkProfile& l, bool reversed) {
  if (reversed) return {l.to(), l.from(), l.latency_ms(), l.bandwidth_bytes_per_s()};
  return {l.from(), l.to(), l.latency_ms(), l.bandwidth_bytes_per_s()};
}

absl::Status CheckJitter(const v1::LinkProfile& l, const std::string& where) {
  if (!(l.jitter_ms() >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".jitter_ms must be >= 0, got ", l.jitter_ms()));
  }
  return absl::OkStatus();
}

int DeviceIndex(const pt::Cluster& c, const std::string& name) {
  for (size_t i = 0; i < c.devices.size(); ++i) {
    if (c.devices[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

void SetLink(SimCluster& out, int from, int to, const v1::LinkProfile& l) {
  SimLink& s = out.links[from * out.cluster.devices.size() + to];
  s = {l.latency_ms(), l.bandwidth_bytes_per_s(), l.jitter_ms(), true};
}

// Fills the dense link matrix: the default first, explicit links on top
// (later entries win, as in partitioner::FindLink).
void BuildLinkMatrix(SimCluster& out) {
  const int n = static_cast<int>(out.cluster.devices.size());
  out.links.assign(static_cast<size_t>(n) * n, SimLink{});
  if (out.proto.has_default_link()) {
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) {
        if (a != b) SetLink(out, a, b, out.proto.default_link());
      }
    }
  }
  for (const v1::LinkProfile& l : out.proto.links()) {
    int a = DeviceIndex(out.cluster, l.from()), b = DeviceIndex(out.cluster, l.to());
    SetLink(out, a, b, l);
    if (l.both_directions()) SetLink(out, b, a, l);
  }
}

}  // namespace

absl::StatusOr<GgmlType> FormatFromProto(int value, const std::string& where) {
  switch (value) {
    case v1::TENSOR_FORMAT_F32: return GgmlType::kF32;
    case v1::TENSOR_FORMAT_F16: return GgmlType::kF16;
    case v1::TENSOR_FORMAT_Q8_0: return GgmlType::kQ8_0;
    case v1::TENSOR_FORMAT_Q4_0: return GgmlType::kQ4_0;
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": unknown format ", value));
}

absl::StatusOr<pt::DeviceProfile> DeviceFromProto(const v1::DeviceProfile& d,
                                                  int index) {
  pt::DeviceProfile out;
  out.name = d.name();
  out.backend = d.backend().empty() ? "cpu" : d.backend();
  out.memory_budget_bytes = d.memory_budget_bytes();
  out.step_overhead_ms = d.step_overhead_ms();
  for (int j = 0; j < d.perf_size(); ++j) {
    const std::string where = absl::StrCat("devices[", index, "].perf[", j, "]");
    TESSERA_ASSIGN_OR_RETURN(GgmlType f, FormatFromProto(d.perf(j).format(), where));
    if (out.perf.count(f)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".format: ", model::TypeName(f), " listed twice"));
    }
    out.perf[f] = {d.perf(j).decode_bytes_per_s(), d.perf(j).prefill_flop_per_s()};
  }
  return out;
}

absl::StatusOr<SimCluster> ParseSimCluster(const std::string& text,
                                           const std::string& where) {
  SimCluster out;
  TESSERA_RETURN_IF_ERROR(ParseTextProto(text, where, &out.proto));
  out.cluster.name = out.proto.name();
  out.description = out.proto.description();
  for (int i = 0; i < out.proto.devices_size(); ++i) {
    auto device = DeviceFromProto(out.proto.devices(i), i);
    if (!device.ok()) return Annotate(device.status(), where);
    out.cluster.devices.push_back(*std::move(device));
  }
  for (int i = 0; i < out.proto.links_size(); ++i) {
    const v1::LinkProfile& l = out.proto.links(i);
    TESSERA_RETURN_IF_ERROR_CTX(CheckJitter(l, absl::StrCat("links[", i, "]")), where);
    out.cluster.links.push_back(LinkFromProto(l, false));
    if (l.both_directions()) out.cluster.links.push_back(LinkFromProto(l, true));
  }
  if (out.proto.has_default_link()) {
    TESSERA_RETURN_IF_ERROR_CTX(CheckJitter(out.proto.default_link(), "default_link"),
                                where);
    out.cluster.default_link = LinkFromProto(out.proto.default_link(), false);
  }
  TESSERA_RETURN_IF_ERROR_CTX(pt::ValidateCluster(out.cluster), where);
  BuildLinkMatrix(out);
  return out;
}

absl::StatusOr<SimCluster> LoadSimCluster(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseSimCluster(text, path);
}

absl::StatusOr<v1::DeviceProfile> LoadDeviceFile(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  v1::DeviceProfile proto;
  TESSERA_RETURN_IF_ERROR(ParseTextProto(text, path, &proto));
  pt::Cluster one;
  auto device = DeviceFromProto(proto, 0);
  if (!device.ok()) return Annotate(device.status(), path);
  one.devices.push_back(*std::move(device));
  TESSERA_RETURN_IF_ERROR_CTX(pt::ValidateCluster(one), path);
  return proto;
}

}  // namespace tessera::sim
