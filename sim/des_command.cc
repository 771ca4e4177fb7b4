#include "sim/des_command.h"

#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/args.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "model/model_shapes.h"
#include "partitioner/quality.h"
#include "sim/des.h"
#include "sim/planners.h"
#include "sim/svg_chart.h"

namespace tessera::sim {
namespace {

namespace pt = ::tessera::partitioner;

struct Row {
  std::string planner;
  pt::Plan plan;
  DesResult result;
};

absl::StatusOr<std::vector<std::string>> PlannersFromFlag(const std::string& flag) {
  if (flag == "all") return PlannerNames();
  std::vector<std::string> out = absl::StrSplit(flag, ',');
  for (const std::string& name : out) {
    bool known = false;
    for (const std::string& k : PlannerNames()) known |= k == name;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--planner: unknown planner '", name, "' (ours, even, memory, uniform or all)"));
    }
  }
  return out;
}

std::string FormatRow(const pt::Problem& p, const Row& r) {
  const DesResult& d = r.result;
  std::string util;
  double max_util = 0;
  for (double u : d.stage_utilisation) max_util = std::max(max_util, u);
  return absl::StrFormat(
      "%-8s %-30.30s %3d %5s %10.1f %9.2f %10.2f %9.2f %10.1f %6.2f %5.0f%%  %s\n", r.planner,
      r.plan.method, static_cast<int>(r.plan.stages.size()),
      r.plan.predictions.fits ? "yes" : "NO", d.mean_ttft_ms, d.decode_tokens_per_s,
      d.tokens_per_s, r.plan.predictions.throughput_tokens_per_s, d.p95_latency_ms,
      d.mean_batch, 100 * max_util, absl::StrCat(d.events, " events"));
}

void PrintTable(const pt::Problem& p, const std::vector<Row>& rows) {
  std::cout << absl::StrFormat(
      "%-8s %-30s %3s %5s %10s %9s %10s %9s %10s %6s %6s\n", "planner", "method", "dev",
      "fits", "TTFT ms", "dec t/s", "sim t/s", "model t/s", "p95 lat ms", "batch",
      "busy");
  for (const Row& r : rows) std::cout << FormatRow(p, r);
}

absl::Status WriteChart(const std::string& path, const SimCluster& cluster,
                        const pt::Problem& p, const std::vector<Row>& rows) {
  std::vector<ChartSeries> series;
  for (const Row& r : rows) {
    ChartSeries s{r.planner, r.result.tokens_per_s, {}, r.result.timeline};
    for (const pt::Stage& st : r.plan.stages) {
      s.stage_names.push_back(cluster.cluster.devices[st.device].name);
    }
    series.push_back(std::move(s));
  }
  const std::string title = absl::StrCat(p.costs.model_name, " on ", cluster.cluster.name,
                                         ": ", rows.front().result.timeline.size() > 0
                                                   ? "simulated pipeline" : "");
  return WriteStringToFile(path, RenderSvg(title, series));
}

void DeclareFlags(cli::ArgParser& args) {
  args.String("cluster", "", "cluster textproto (configs/clusters/*.textproto)")
      .Required("cluster");
  args.String("shape", "", "known model shape, e.g. llama-3-8b, llama-3-70b").Required("shape");
  args.Int("requests", 16, "requests to simulate");
  args.Int("concurrency", 8, "sessions in flight (also the planner's k)");
  args.Int("prompt-tokens", 512, "prompt length");
  args.Int("gen-tokens", 128, "tokens generated per request");
  args.Int("max-batch", 8, "decode steps batched per stage step");
  args.String("planner", "all", "ours | even | memory | uniform | a,b list | all");
  args.String("objective", "throughput", "planner objective: latency | throughput | mix");
  args.String("quality-budget", "q4_0", "every layer in this format at worst");
  args.String("codec", "f16", "activation codec: f32 f16 q8_0");
  args.Int("seed", 1, "seed of the link jitter");
  args.Int("exact-devices", 8, "exhaustive order search up to this many devices");
  args.String("svg", "", "write the chart to this SVG file");
}

absl::Status RunDes(const cli::ArgParser& args) {
  TESSERA_ASSIGN_OR_RETURN(SimCluster cluster, LoadSimCluster(args.GetString("cluster")));
  pt::Workload w;
  w.prompt_tokens = args.GetInt("prompt-tokens");
  w.gen_tokens = args.GetInt("gen-tokens");
  w.concurrent_requests = args.GetInt("concurrency");
  TESSERA_ASSIGN_OR_RETURN(w.codec, pt::ParseCodec(args.GetString("codec")));
  TESSERA_ASSIGN_OR_RETURN(pt::Objective objective,
                           pt::ParseObjective(args.GetString("objective")));
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> planners,
                           PlannersFromFlag(args.GetString("planner")));
  TESSERA_ASSIGN_OR_RETURN(pt::Problem problem,
                           ShapeProblem(args.GetString("shape"), cluster, w, objective,
                                        args.GetString("quality-budget")));
  pt::SearchOptions search;
  search.max_exact_devices = static_cast<int>(args.GetInt("exact-devices"));
  DesOptions opt;
  opt.requests = args.GetInt("requests");
  opt.concurrency = w.concurrent_requests;
  opt.prompt_tokens = w.prompt_tokens;
  opt.gen_tokens = w.gen_tokens;
  opt.max_batch = static_cast<int>(args.GetInt("max-batch"));
  opt.seed = static_cast<uint64_t>(args.GetInt("seed"));
  opt.activation_bytes_per_token =
      problem.costs.activation_bytes_per_token[static_cast<int>(w.codec)];
  std::vector<Row> rows;
  double plan_s = 0, sim_s = 0;
  for (const std::string& name : planners) {
    absl::Time t0 = absl::Now();
    auto plan = PlanWith(name, problem, search);
    plan_s += absl::ToDoubleSeconds(absl::Now() - t0);
    if (!plan.ok()) {
      std::cout << name << ": no plan: " << plan.status().message() << "\n";
      continue;
    }
    TESSERA_ASSIGN_OR_RETURN(std::vector<StageCosts> costs,
                             BuildStageCosts(problem, plan->stages));
    t0 = absl::Now();
    TESSERA_ASSIGN_OR_RETURN(DesResult result,
                             Simulate(costs, PipelineLinks(cluster, plan->stages), opt));
    sim_s += absl::ToDoubleSeconds(absl::Now() - t0);
    rows.push_back({name, *std::move(plan), std::move(result)});
  }
  if (rows.empty()) return absl::FailedPreconditionError("no planner produced a plan");
  std::cout << absl::StrFormat(
      "%s on %s (%d devices): %d requests, %d in flight, prompt %d, gen %d, max batch %d\n",
      problem.costs.model_name, cluster.cluster.name,
      static_cast<int>(cluster.cluster.devices.size()), opt.requests, opt.concurrency,
      opt.prompt_tokens, opt.gen_tokens, opt.max_batch);
  PrintTable(problem, rows);
  std::cout << absl::StrFormat("wall time: planning %.2f s, simulation %.2f s\n", plan_s, sim_s);
  if (!args.GetString("svg").empty()) {
    TESSERA_RETURN_IF_ERROR(WriteChart(args.GetString("svg"), cluster, problem, rows));
    std::cout << "chart: " << args.GetString("svg") << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<pt::Problem> ShapeProblem(const std::string& shape, const SimCluster& cluster,
                                         const pt::Workload& workload, pt::Objective objective,
                                         const std::string& quality_format) {
  TESSERA_ASSIGN_OR_RETURN(model::ModelShape s, model::FindShape(shape));
  pt::Problem p;
  pt::CostOptions options;
  TESSERA_ASSIGN_OR_RETURN(p.costs, pt::BuildCostTable(s.config, options));
  if (p.costs.model_name.empty()) p.costs.model_name = shape;
  TESSERA_ASSIGN_OR_RETURN(p.quality,
                           pt::GaussianProxy(s.config, p.costs, options.fallback_format));
  p.cluster = cluster.cluster;
  p.workload = workload;
  p.objective = objective;
  TESSERA_ASSIGN_OR_RETURN(model::GgmlType budget, model::ParseTypeName(quality_format));
  TESSERA_ASSIGN_OR_RETURN(p.quality_budget, pt::UniformQualityCost(p.quality, budget));
  TESSERA_RETURN_IF_ERROR(pt::ValidateProblem(p));
  return p;
}

int DesMain(const std::vector<std::string>& argv) {
  cli::ArgParser args("tessera-sim des --cluster FILE --shape NAME [--requests N] "
                      "[--planner ours|even|memory|uniform|all] [--svg FILE]");
  DeclareFlags(args);
  int code = 0;
  if (!ParseOrExit(args, argv, code)) return code;
  absl::Status status = RunDes(args);
  if (!status.ok()) {
    std::cerr << "tessera-sim des: " << status.message() << "\n";
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace tessera::sim
