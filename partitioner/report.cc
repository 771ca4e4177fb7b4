#include "partitioner/report.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tessera::partitioner {
namespace {

// "1.23 GiB" or, below 1 GiB, "456.7 MiB".
std::string Size(double bytes) {
  const double mib = bytes / (1024.0 * 1024.0);
  return mib < 1024 ? absl::StrFormat("%.1f MiB", mib)
                    : absl::StrFormat("%.2f GiB", mib / 1024);
}

std::string Ends(const Stage& s) {
  std::vector<std::string> parts;
  if (s.holds_embedding) parts.push_back("embedding");
  if (s.holds_head) parts.push_back("head");
  return parts.empty() ? "-" : absl::StrJoin(parts, "+");
}

std::string Devices(const Problem& p, const Plan& plan) {
  std::vector<std::string> names;
  for (const Stage& s : plan.stages) {
    names.push_back(p.cluster.devices[s.device].name);
  }
  return absl::StrJoin(names, " > ");
}

std::string PredictionLines(const Problem& p, const Plan& plan) {
  const struct Predictions& r = plan.predictions;
  std::string out = absl::StrFormat(
      "TTFT %.1f ms | decode %.2f ms/token (%.1f tokens/s, one stream) | "
      "request %.1f ms (%d+%d tokens)\n"
      "throughput %.1f tokens/s with %d request(s) in flight "
      "(cycle %.2f ms, bottleneck %.2f ms/token)\n"
      "quality cost %.4g (budget %s, source %s)\n",
      r.ttft_ms, r.decode_ms_per_token,
      r.decode_ms_per_token > 0 ? 1e3 / r.decode_ms_per_token : 0.0,
      r.request_latency_ms, p.workload.prompt_tokens, p.workload.gen_tokens,
      r.throughput_tokens_per_s, p.workload.concurrent_requests, r.cycle_ms,
      r.bottleneck_ms, r.quality_cost,
      std::isfinite(p.quality_budget) ? absl::StrFormat("%.4g", p.quality_budget)
                                      : "none",
      p.quality.source);
  absl::StrAppendFormat(
      &out, "objective %s = %.2f ms (lower bound %.2f, gap %.2f%%) | found by %s%s, "
      "%d device sequence(s)/order(s)%s\n",
      ObjectiveName(p.objective), r.objective, plan.lower_bound,
      r.objective > 0 ? 100.0 * (r.objective - plan.lower_bound) / r.objective : 0.0,
      plan.method, plan.optimal ? " (proven optimal)" : "", plan.orders_evaluated,
      plan.labels_trimmed ? ", some DP states trimmed" : "");
  if (!r.fits) absl::StrAppend(&out, "DOES NOT FIT: ", r.violation, "\n");
  return out;
}

}  // namespace

std::string DescribeFormats(const Stage& stage) {
  std::vector<std::string> groups;
  size_t i = 0;
  while (i < stage.formats.size()) {
    size_t j = i;
    while (j + 1 < stage.formats.size() && stage.formats[j + 1] == stage.formats[i]) ++j;
    int64_t a = stage.first_layer + static_cast<int64_t>(i);
    int64_t b = stage.first_layer + static_cast<int64_t>(j);
    groups.push_back(absl::StrCat(a == b ? absl::StrCat(a) : absl::StrCat(a, "-", b),
                                  " ", model::TypeName(stage.formats[i])));
    i = j + 1;
  }
  return absl::StrJoin(groups, ", ");
}

std::string FormatPlanTable(const Problem& p, const Plan& plan) {
  std::string out = absl::StrFormat(
      "Plan for %s on %s (%s objective, activations %s)\n", p.costs.model_name,
      p.cluster.name, ObjectiveName(p.objective), CodecName(p.workload.codec));
  absl::StrAppendFormat(&out, "%-5s %-18s %-8s %-8s %-16s %-28s %s\n", "stage",
                        "device", "backend", "layers", "holds", "formats",
                        "memory / budget");
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    const Stage& s = plan.stages[i];
    const DeviceProfile& d = p.cluster.devices[s.device];
    absl::StrAppendFormat(
        &out, "%-5d %-18s %-8s %-8s %-16s %-28s %s / %s\n", i, d.name,
        d.backend, absl::StrCat(s.first_layer, "-", s.end_layer - 1), Ends(s),
        DescribeFormats(s), Size(plan.predictions.memory_bytes[s.device]),
        Size(d.memory_budget_bytes));
  }
  return out + PredictionLines(p, plan);
}

std::string FormatComparison(const Problem& p, const PlanReport& report) {
  std::string out = absl::StrFormat(
      "%-44s %-34s %9s %9s %10s %9s %9s %5s %9s\n", "plan", "devices",
      "TTFT ms", "ms/token", "request ms", "tokens/s", "quality", "fits",
      "objective");
  std::vector<const Plan*> rows = {&report.plan};
  for (const Plan& b : report.baselines) rows.push_back(&b);
  const double ours = report.plan.predictions.objective;
  for (const Plan* plan : rows) {
    const struct Predictions& r = plan->predictions;
    std::string rel = plan == &report.plan
                          ? "ours"
                          : absl::StrFormat("%+.1f%%", 100.0 * (r.objective / ours - 1));
    std::string method = plan == &report.plan ? "Tessera: " + plan->method : plan->method;
    absl::StrAppendFormat(&out, "%-44s %-34s %9.1f %9.2f %10.1f %9.1f %9.4g %5s %9s\n",
                          method, Devices(p, *plan), r.ttft_ms,
                          r.decode_ms_per_token, r.request_latency_ms,
                          r.throughput_tokens_per_s, r.quality_cost,
                          r.fits ? "yes" : "NO", rel);
  }
  return out;
}

}  // namespace tessera::partitioner
