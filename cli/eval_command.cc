// `tessera eval`: checks a plan's quality claim. Runs the model with the
// plan's per-layer formats and unquantised (reference forward pass) over a
// prompt set and prints the mean KL divergence of the next-token
// distributions and the top-1 agreement (partitioner/calibration.h).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/args.h"
#include "cli/command.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "model/model_file.h"
#include "partitioner/calibration.h"
#include "tessera/v1/plan.pb.h"

namespace tessera::cli {
namespace {

namespace pt = ::tessera::partitioner;
using model::GgmlType;

// A tessera.v1.PlanReport (`tessera plan --json`) or a bare tessera.v1.Plan.
absl::StatusOr<v1::Plan> LoadPlan(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string json, ReadFileToString(path));
  v1::PlanReport report;
  if (google::protobuf::util::JsonStringToMessage(json, &report).ok() &&
      report.has_plan()) {
    return report.plan();
  }
  v1::Plan plan;
  auto status = google::protobuf::util::JsonStringToMessage(json, &plan);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a plan: ", status.message().as_string()));
  }
  return plan;
}

// One format per layer, checking that the stages cover [0, n_layers).
absl::StatusOr<std::vector<GgmlType>> LayerFormats(const v1::Plan& plan,
                                                   int64_t n_layers) {
  std::vector<GgmlType> formats;
  for (int i = 0; i < plan.stages_size(); ++i) {
    const v1::PlanStage& s = plan.stages(i);
    if (s.first_layer() != static_cast<int64_t>(formats.size()) ||
        s.end_layer() - s.first_layer() != s.layer_formats_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stages[", i, "]: layers [", s.first_layer(), ", ", s.end_layer(),
          ") with ", s.layer_formats_size(), " formats do not continue the plan"));
    }
    for (int f : s.layer_formats()) {
      auto traits = model::GetTypeTraits(static_cast<uint32_t>(f));
      if (!traits.has_value() || !traits->can_quantize) {
        return absl::InvalidArgumentError(
            absl::StrCat("stages[", i, "]: format ", f, " cannot be evaluated"));
      }
      formats.push_back(static_cast<GgmlType>(f));
    }
  }
  if (static_cast<int64_t>(formats.size()) != n_layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the plan covers ", formats.size(), " layers, the model has ", n_layers));
  }
  return formats;
}

absl::StatusOr<pt::Prompts> LoadPrompts(const ArgParser& args,
                                        const model::Tokenizer& tokenizer) {
  std::vector<std::string> lines = pt::DefaultCalibrationPrompts();
  if (args.Has("prompts")) {
    TESSERA_ASSIGN_OR_RETURN(std::string text,
                             ReadFileToString(args.GetString("prompts")));
    lines = absl::StrSplit(text, '\n');
  }
  return pt::TokenizePrompts(tokenizer, lines, args.GetInt("max-tokens"));
}

absl::Status Eval(const ArgParser& args) {
  TESSERA_ASSIGN_OR_RETURN(v1::Plan plan, LoadPlan(args.GetString("plan")));
  TESSERA_ASSIGN_OR_RETURN(auto file, model::ModelFile::Open(args.GetString("model")));
  TESSERA_ASSIGN_OR_RETURN(auto formats, LayerFormats(plan, file->config.n_layers));
  TESSERA_ASSIGN_OR_RETURN(pt::Prompts prompts, LoadPrompts(args, *file->tokenizer));
  TESSERA_ASSIGN_OR_RETURN(pt::PlanQuality q,
                           pt::MeasurePlanQuality(file->weights, formats, prompts));
  std::cout << absl::StrFormat(
      "plan: %s (%d stages) | predicted quality cost %.4g (%s)\n"
      "measured over %d prompts, %d tokens: mean KL %.6g nats/token, "
      "top-1 agreement %.2f%%\n",
      plan.method(), plan.stages_size(), plan.predictions().quality_cost(),
      plan.quality_source().empty() ? "unknown source" : plan.quality_source(),
      prompts.size(), q.tokens, q.mean_kl, 100.0 * q.top1_agreement);
  return absl::OkStatus();
}

int EvalMain(const std::vector<std::string>& argv) {
  ArgParser args("tessera eval --model M.gguf --plan PLAN.json [--prompts FILE]");
  args.String("model", "", "GGUF model file").Required("model");
  args.String("plan", "", "plan JSON from `tessera plan --json`").Required("plan");
  args.String("prompts", "", "text file, one prompt per line (default: built-in)");
  args.Int("max-tokens", 64, "tokens per prompt at most");
  return RunParsed(args, argv, "tessera eval", Eval);
}

}  // namespace
}  // namespace tessera::cli

TESSERA_REGISTER_COMMAND(eval, "measure a plan's quality against the model",
                         tessera::cli::EvalMain);
