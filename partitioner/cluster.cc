#include "partitioner/cluster.h"

#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tessera::partitioner {
namespace {

absl::Status FieldError(const std::string& field, absl::string_view what) {
  // `what` starting with ':' attaches to the field ("links[2].to: ...").
  absl::string_view sep = absl::StartsWith(what, ":") ? "" : " ";
  return absl::InvalidArgumentError(absl::StrCat(field, sep, what));
}

bool Positive(double v) { return std::isfinite(v) && v > 0; }

absl::Status ValidateDevice(const DeviceProfile& d, const std::string& where) {
  if (d.name.empty()) return FieldError(where + ".name", "must not be empty");
  if (d.memory_budget_bytes <= 0) {
    return FieldError(where + ".memory_budget_bytes",
                      absl::StrCat("must be > 0, got ", d.memory_budget_bytes));
  }
  if (!std::isfinite(d.step_overhead_ms) || d.step_overhead_ms < 0) {
    return FieldError(where + ".step_overhead_ms",
                      absl::StrCat("must be >= 0, got ", d.step_overhead_ms));
  }
  if (d.perf.empty()) {
    return FieldError(where + ".perf", "must list at least one format");
  }
  for (const auto& [format, perf] : d.perf) {
    std::string f = absl::StrCat(where, ".perf[", model::TypeName(format), "]");
    if (!Positive(perf.decode_bytes_per_s)) {
      return FieldError(f + ".decode_bytes_per_s",
                        absl::StrCat("must be > 0, got ", perf.decode_bytes_per_s));
    }
    if (!Positive(perf.prefill_flop_per_s)) {
      return FieldError(f + ".prefill_flop_per_s",
                        absl::StrCat("must be > 0, got ", perf.prefill_flop_per_s));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLink(const LinkProfile& l, const std::string& where,
                          const std::set<std::string>* names) {
  if (names != nullptr) {
    if (!names->count(l.from)) {
      return FieldError(where + ".from",
                        absl::StrCat(": unknown device '", l.from, "'"));
    }
    if (!names->count(l.to)) {
      return FieldError(where + ".to",
                        absl::StrCat(": unknown device '", l.to, "'"));
    }
    if (l.from == l.to) {
      return FieldError(where, absl::StrCat(": links device '", l.from,
                                            "' to itself"));
    }
  }
  if (!std::isfinite(l.latency_ms) || l.latency_ms < 0) {
    return FieldError(where + ".latency_ms",
                      absl::StrCat("must be >= 0, got ", l.latency_ms));
  }
  if (!Positive(l.bandwidth_bytes_per_s)) {
    return FieldError(where + ".bandwidth_bytes_per_s",
                      absl::StrCat("must be > 0, got ", l.bandwidth_bytes_per_s));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateCluster(const Cluster& cluster) {
  if (cluster.devices.empty()) {
    return absl::InvalidArgumentError("cluster has no devices");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < cluster.devices.size(); ++i) {
    const DeviceProfile& d = cluster.devices[i];
    std::string where = absl::StrCat("devices[", i, "]");
    if (!d.name.empty()) absl::StrAppend(&where, " (", d.name, ")");
    if (auto s = ValidateDevice(d, where); !s.ok()) return s;
    if (!names.insert(d.name).second) {
      return FieldError(where + ".name", "duplicates an earlier device");
    }
  }
  for (size_t i = 0; i < cluster.links.size(); ++i) {
    auto s = ValidateLink(cluster.links[i], absl::StrCat("links[", i, "]"),
                          &names);
    if (!s.ok()) return s;
  }
  if (cluster.default_link.has_value()) {
    auto s = ValidateLink(*cluster.default_link, "default_link", nullptr);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::optional<LinkProfile> FindLink(const Cluster& cluster, int from, int to) {
  const std::string& a = cluster.devices[from].name;
  const std::string& b = cluster.devices[to].name;
  for (auto it = cluster.links.rbegin(); it != cluster.links.rend(); ++it) {
    if (it->from == a && it->to == b) return *it;
  }
  if (!cluster.default_link.has_value()) return std::nullopt;
  LinkProfile link = *cluster.default_link;
  link.from = a;
  link.to = b;
  return link;
}

const char* CodecName(ActivationCodec codec) {
  switch (codec) {
    case ActivationCodec::kF32: return "f32";
    case ActivationCodec::kF16: return "f16";
    case ActivationCodec::kQ8_0: return "q8_0";
  }
  return "?";
}

absl::StatusOr<ActivationCodec> ParseCodec(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  for (ActivationCodec c : {ActivationCodec::kF32, ActivationCodec::kF16,
                            ActivationCodec::kQ8_0}) {
    if (lower == CodecName(c)) return c;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown activation codec '", name, "' (want f32, f16 or q8_0)"));
}

absl::Status ValidateWorkload(const Workload& w) {
  if (w.prompt_tokens < 1) {
    return FieldError("workload.prompt_tokens",
                      absl::StrCat("must be >= 1, got ", w.prompt_tokens));
  }
  if (w.gen_tokens < 1) {
    return FieldError("workload.gen_tokens",
                      absl::StrCat("must be >= 1, got ", w.gen_tokens));
  }
  if (w.concurrent_requests < 1) {
    return FieldError("workload.concurrent_requests",
                      absl::StrCat("must be >= 1, got ", w.concurrent_requests));
  }
  return absl::OkStatus();
}

}  // namespace tessera::partitioner
