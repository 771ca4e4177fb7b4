// `tessera calibrate`: measures how sensitive each layer of a model is to
// each execution format (partitioner/calibration.h) and writes the sidecar
// (a tessera.v1.SensitivityTable as JSON, MODEL.sensitivity.json by
// default) that `tessera plan --model MODEL` then uses as its quality table.
#include <iostream>

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

absl::StatusOr<std::vector<GgmlType>> ParseFormats(const std::string& list) {
  std::vector<GgmlType> formats;
  for (absl::string_view name : absl::StrSplit(list, ',')) {
    TESSERA_ASSIGN_OR_RETURN(GgmlType t, model::ParseTypeName(name));
    formats.push_back(t);
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

absl::StatusOr<std::string> SidecarJson(const model::ModelFile& file,
                                        const pt::Sensitivity& s) {
  v1::SensitivityTable table;
  table.set_model(file.config.name);
  for (GgmlType f : s.formats) {
    table.add_formats(static_cast<v1::TensorFormat>(static_cast<int>(f)));
  }
  for (size_t l = 0; l < s.kl.size(); ++l) {
    v1::LayerSensitivity* layer = table.add_layers();
    for (double v : s.kl[l]) layer->add_kl(v);
    for (double v : s.variance[l]) layer->add_variance_indicator(v);
  }
  table.set_prompts(s.prompts);
  table.set_tokens(s.tokens);
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(table, &json, options);
  if (!status.ok()) return absl::InternalError(status.message().as_string());
  return json;
}

void PrintTable(const pt::Sensitivity& s) {
  std::cout << absl::StrFormat("%-6s", "layer");
  for (GgmlType f : s.formats) {
    std::cout << absl::StrFormat(" %12s %12s", absl::StrCat("KL ", model::TypeName(f)),
                                 absl::StrCat("var ", model::TypeName(f)));
  }
  std::cout << "\n";
  for (size_t l = 0; l < s.kl.size(); ++l) {
    std::cout << absl::StrFormat("%-6d", l);
    for (size_t f = 0; f < s.formats.size(); ++f) {
      std::cout << absl::StrFormat(" %12.4g %12.4g", s.kl[l][f], s.variance[l][f]);
    }
    std::cout << "\n";
  }
}

absl::Status Calibrate(const ArgParser& args) {
  const std::string& path = args.GetString("model");
  TESSERA_ASSIGN_OR_RETURN(auto file, model::ModelFile::Open(path));
  TESSERA_ASSIGN_OR_RETURN(auto formats, ParseFormats(args.GetString("formats")));
  TESSERA_ASSIGN_OR_RETURN(pt::Prompts prompts, LoadPrompts(args, *file->tokenizer));
  TESSERA_ASSIGN_OR_RETURN(pt::Sensitivity s,
                           pt::Calibrate(file->weights, prompts, formats));
  TESSERA_ASSIGN_OR_RETURN(std::string json, SidecarJson(*file, s));
  std::string out = args.GetString("output");
  if (out.empty()) out = path + ".sensitivity.json";
  TESSERA_RETURN_IF_ERROR(WriteStringToFile(out, json));
  PrintTable(s);
  std::cerr << absl::StrFormat("%d prompts, %d tokens; wrote %s\n", s.prompts,
                               s.tokens, out);
  return absl::OkStatus();
}

int CalibrateMain(const std::vector<std::string>& argv) {
  ArgParser args("tessera calibrate --model M.gguf [--prompts FILE] [--output FILE]");
  args.String("model", "", "GGUF model file").Required("model");
  args.String("prompts", "", "text file, one prompt per line (default: built-in)");
  args.Int("max-tokens", 64, "tokens per prompt at most");
  args.String("formats", "f16,q8_0,q4_0", "formats to measure");
  args.String("output", "", "sidecar path (default MODEL.sensitivity.json)");
  return RunParsed(args, argv, "tessera calibrate", Calibrate);
}

}  // namespace
}  // namespace tessera::cli

TESSERA_REGISTER_COMMAND(calibrate, "measure per-layer quantisation sensitivity",
                         tessera::cli::CalibrateMain);
