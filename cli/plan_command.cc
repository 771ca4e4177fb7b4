// `tessera plan`: plans a model over a cluster (partitioner/planner.h) and
// prints the plan, its predictions and the baselines' (or all of it as JSON,
// a tessera.v1.PlanReport). This file is the edge of the pure partitioner:
// it reads the cluster textproto, the model (GGUF or a known shape) and the
// calibration sidecar, and converts the result to protos.
#include <cmath>
#include <iostream>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/args.h"
#include "cli/command.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "model/gguf.h"
#include "model/model_config.h"
#include "model/model_shapes.h"
#include "model/weights.h"
#include "partitioner/planner.h"
#include "partitioner/report.h"
#include "sim/cluster_config.h"
#include "tessera/v1/cluster.pb.h"
#include "tessera/v1/plan.pb.h"

namespace tessera::cli {
namespace {

namespace pt = ::tessera::partitioner;
using model::GgmlType;

v1::TensorFormat FormatToProto(GgmlType t) {
  return static_cast<v1::TensorFormat>(static_cast<int>(t));  // same ids
}

// The planner's view of a cluster file (parsed and validated by the
// simulator's loader, which also serves tessera-sim).
absl::StatusOr<pt::Cluster> LoadCluster(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(sim::SimCluster loaded, sim::LoadSimCluster(path));
  return std::move(loaded.cluster);
}

// The execution format of a stored tensor, or `fallback` for other types.
GgmlType ExecutionFormat(GgmlType stored, GgmlType fallback) {
  for (GgmlType t : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    if (stored == t) return t;
  }
  return fallback;
}

// Up to 32 evenly spaced rows of each matrix of each layer, in F32.
absl::StatusOr<std::vector<std::vector<pt::MatrixSample>>> SampleWeights(
    const model::ModelWeights& weights) {
  std::vector<std::vector<pt::MatrixSample>> layers;
  for (const model::LayerWeights& l : weights.layers) {
    std::vector<pt::MatrixSample> samples;
    for (const model::TensorView* t :
         {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      pt::MatrixSample m;
      m.cols = t->cols;
      const int64_t step = std::max<int64_t>(1, t->rows / 32);
      for (int64_t r = 0; r < t->rows; r += step) {
        std::vector<float> row(t->cols);
        TESSERA_RETURN_IF_ERROR_CTX(
            model::Dequantize(t->type, t->row(r), row.data(), t->cols), t->name);
        m.values.insert(m.values.end(), row.begin(), row.end());
      }
      samples.push_back(std::move(m));
    }
    layers.push_back(std::move(samples));
  }
  return layers;
}

absl::StatusOr<pt::QualityTable> LoadSidecar(const std::string& path,
                                             const pt::CostTable& costs) {
  TESSERA_ASSIGN_OR_RETURN(std::string json, ReadFileToString(path));
  v1::SensitivityTable table;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &table);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", parsed.message().as_string()));
  }
  pt::QualityTable q{"calibration-kl", {}, {}};
  for (int f : table.formats()) {
    TESSERA_ASSIGN_OR_RETURN(GgmlType t, sim::FormatFromProto(f, path + ": formats"));
    q.formats.push_back(t);
  }
  for (const v1::LayerSensitivity& layer : table.layers()) {
    q.cost.emplace_back(layer.kl().begin(), layer.kl().end());
  }
  auto aligned = pt::AlignQuality(q, costs);
  if (!aligned.ok()) return Annotate(aligned.status(), path);
  return aligned;
}

struct ModelInputs {
  pt::CostTable costs;
  pt::QualityTable quality;
};

absl::StatusOr<pt::CostOptions> CostOptionsFromFlags(const ArgParser& args) {
  pt::CostOptions options;
  options.formats.clear();
  for (absl::string_view name : absl::StrSplit(args.GetString("formats"), ',')) {
    TESSERA_ASSIGN_OR_RETURN(GgmlType t, model::ParseTypeName(name));
    options.formats.push_back(t);
  }
  return options;
}

absl::StatusOr<ModelInputs> LoadModel(const ArgParser& args) {
  TESSERA_ASSIGN_OR_RETURN(pt::CostOptions options, CostOptionsFromFlags(args));
  ModelInputs in;
  if (args.Has("shape")) {
    TESSERA_ASSIGN_OR_RETURN(model::ModelShape shape,
                             model::FindShape(args.GetString("shape")));
    TESSERA_ASSIGN_OR_RETURN(in.costs, pt::BuildCostTable(shape.config, options));
    TESSERA_ASSIGN_OR_RETURN(in.quality,
                             pt::GaussianProxy(shape.config, in.costs, options.fallback_format));
    return in;
  }
  const std::string& path = args.GetString("model");
  TESSERA_ASSIGN_OR_RETURN(auto file, model::GgufFile::Open(path));
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::ConfigFromGguf(*file));
  TESSERA_ASSIGN_OR_RETURN(model::ModelWeights weights, model::LoadWeights(*file, config));
  if (config.name.empty()) config.name = path;
  options.embedding_format = ExecutionFormat(weights.token_embd.type, GgmlType::kQ8_0);
  options.head_format = ExecutionFormat(weights.output.type, GgmlType::kQ8_0);
  TESSERA_ASSIGN_OR_RETURN(in.costs, pt::BuildCostTable(config, options));
  std::string sidecar = args.GetString("sensitivity");
  if (sidecar.empty() && ReadFileToString(path + ".sensitivity.json").ok()) {
    sidecar = path + ".sensitivity.json";
  }
  if (!sidecar.empty()) {
    TESSERA_ASSIGN_OR_RETURN(in.quality, LoadSidecar(sidecar, in.costs));
    return in;
  }
  TESSERA_ASSIGN_OR_RETURN(auto samples, SampleWeights(weights));
  TESSERA_ASSIGN_OR_RETURN(in.quality,
                           pt::WeightProxy(in.costs, samples, options.fallback_format));
  return in;
}

// "none", a number, or a format name (the cost of every layer in it).
absl::StatusOr<double> QualityBudget(const std::string& spec,
                                     const pt::QualityTable& quality) {
  if (spec == "none") return std::numeric_limits<double>::infinity();
  double value = 0;
  if (absl::SimpleAtod(spec, &value)) return value;
  auto format = model::ParseTypeName(spec);
  if (!format.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--quality-budget: want none, a number or a format name, got '", spec, "'"));
  }
  return pt::UniformQualityCost(quality, *format);
}

absl::StatusOr<pt::Problem> BuildProblem(const ArgParser& args) {
  if (args.Has("model") == args.Has("shape")) {
    return absl::InvalidArgumentError("give exactly one of --model and --shape");
  }
  pt::Problem p;
  TESSERA_ASSIGN_OR_RETURN(ModelInputs in, LoadModel(args));
  p.costs = std::move(in.costs);
  p.quality = std::move(in.quality);
  TESSERA_ASSIGN_OR_RETURN(p.cluster, LoadCluster(args.GetString("cluster")));
  p.workload.prompt_tokens = args.GetInt("prompt-tokens");
  p.workload.gen_tokens = args.GetInt("gen-tokens");
  p.workload.concurrent_requests = args.GetInt("requests");
  TESSERA_ASSIGN_OR_RETURN(p.workload.codec, pt::ParseCodec(args.GetString("codec")));
  TESSERA_ASSIGN_OR_RETURN(p.objective, pt::ParseObjective(args.GetString("objective")));
  p.latency_weight = args.GetFloat("latency-weight");
  TESSERA_ASSIGN_OR_RETURN(p.quality_budget,
                           QualityBudget(args.GetString("quality-budget"), p.quality));
  return p;
}

void FillPredictions(const pt::Predictions& r, v1::PlanPredictions& out) {
  out.set_ttft_ms(r.ttft_ms);
  out.set_decode_ms_per_token(r.decode_ms_per_token);
  out.set_request_latency_ms(r.request_latency_ms);
  out.set_cycle_ms(r.cycle_ms);
  out.set_throughput_tokens_per_s(r.throughput_tokens_per_s);
  out.set_bottleneck_ms(r.bottleneck_ms);
  out.set_quality_cost(r.quality_cost);
  out.set_objective(r.objective);
  out.set_fits(r.fits);
  out.set_violation(r.violation);
}

void FillStage(const pt::Problem& p, const pt::Plan& plan, const pt::Stage& s,
               v1::PlanStage& out) {
  out.set_device(p.cluster.devices[s.device].name);
  out.set_device_index(s.device);
  out.set_first_layer(s.first_layer);
  out.set_end_layer(s.end_layer);
  for (GgmlType f : s.formats) out.add_layer_formats(FormatToProto(f));
  out.set_holds_embedding(s.holds_embedding);
  out.set_holds_head(s.holds_head);
  out.set_memory_bytes(plan.predictions.memory_bytes[s.device]);
  out.set_memory_budget_bytes(p.cluster.devices[s.device].memory_budget_bytes);
}

v1::Plan PlanToProto(const pt::Problem& p, const pt::Plan& plan) {
  v1::Plan out;
  out.set_model(p.costs.model_name);
  out.set_cluster(p.cluster.name);
  out.set_objective(pt::ObjectiveName(p.objective));
  out.set_method(plan.method);
  for (const pt::Stage& s : plan.stages) FillStage(p, plan, s, *out.add_stages());
  FillPredictions(plan.predictions, *out.mutable_predictions());
  out.set_optimal(plan.optimal);
  out.set_lower_bound(plan.lower_bound);
  out.set_activation_codec(pt::CodecName(p.workload.codec));
  out.set_prompt_tokens(p.workload.prompt_tokens);
  out.set_gen_tokens(p.workload.gen_tokens);
  out.set_concurrent_requests(p.workload.concurrent_requests);
  if (std::isfinite(p.quality_budget)) out.set_quality_budget(p.quality_budget);
  out.set_quality_source(p.quality.source);
  out.set_embedding_format(FormatToProto(p.costs.embedding_format));
  out.set_head_format(FormatToProto(p.costs.head_format));
  return out;
}

absl::StatusOr<std::string> ReportJson(const pt::Problem& p,
                                       const pt::PlanReport& report) {
  v1::PlanReport proto;
  *proto.mutable_plan() = PlanToProto(p, report.plan);
  for (const pt::Plan& b : report.baselines) *proto.add_baselines() = PlanToProto(p, b);
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(proto, &json, options);
  if (!status.ok()) return absl::InternalError(status.message().as_string());
  return json;
}

absl::Status Plan(const ArgParser& args) {
  TESSERA_ASSIGN_OR_RETURN(pt::Problem problem, BuildProblem(args));
  pt::SearchOptions options;
  options.max_exact_devices = static_cast<int>(args.GetInt("exact-devices"));
  TESSERA_ASSIGN_OR_RETURN(pt::PlanReport report,
                           pt::PlanWithBaselines(problem, options));
  if (args.GetBool("json")) {
    TESSERA_ASSIGN_OR_RETURN(std::string json, ReportJson(problem, report));
    std::cout << json << "\n";
    return absl::OkStatus();
  }
  std::cout << pt::FormatPlanTable(problem, report.plan) << "\n"
            << "Compared with the baselines (objective relative to ours; "
               "positive = worse):\n"
            << pt::FormatComparison(problem, report);
  return absl::OkStatus();
}

void DeclareFlags(ArgParser& args) {
  args.String("model", "", "GGUF model file (or --shape)");
  args.String("shape", "", "a known model shape, e.g. tinyllama-1.1b, llama-3-8b");
  args.String("cluster", "", "cluster textproto (configs/clusters/*.textproto)")
      .Required("cluster");
  args.String("objective", "latency", "latency | throughput | mix");
  args.Float("latency-weight", 0.5, "weight of latency in the mix objective");
  args.Int("requests", 1, "concurrent requests in flight (k)");
  args.Int("prompt-tokens", 512, "prompt length of a request");
  args.Int("gen-tokens", 128, "tokens generated per request");
  args.String("formats", "f16,q8_0,q4_0", "candidate layer formats");
  args.String("quality-budget", "q4_0",
              "none, a number, or a format (= every layer in that format)");
  args.String("sensitivity", "", "calibration sidecar (default MODEL.sensitivity.json)");
  args.String("codec", "f16", "activation codec between stages: f32 f16 q8_0");
  args.Int("exact-devices", 8, "search every device order up to this many devices");
  args.Bool("json", false, "print a tessera.v1.PlanReport as JSON");
}

int PlanMain(const std::vector<std::string>& argv) {
  ArgParser args(
      "tessera plan (--model M.gguf | --shape NAME) --cluster FILE "
      "[--objective latency|throughput|mix] [--requests K] [--json]");
  DeclareFlags(args);
  return RunParsed(args, argv, "tessera plan", Plan);
}

}  // namespace
}  // namespace tessera::cli

TESSERA_REGISTER_COMMAND(plan, "plan layers and formats over a cluster",
                         tessera::cli::PlanMain);
