// `tessera make-model`: writes a random-weight GGUF model of a real shape.
#include <iostream>

#include "absl/strings/str_join.h"
#include "cli/args.h"
#include "cli/command.h"
#include "common/status_macros.h"
#include "model/builtin_vocab.h"
#include "model/make_model.h"
#include "model/model_shapes.h"

namespace tessera::cli {
namespace {

absl::Status MakeModelCommand(const ArgParser& args) {
  TESSERA_ASSIGN_OR_RETURN(model::ModelShape shape,
                           model::FindShape(args.GetString("shape")));
  TESSERA_ASSIGN_OR_RETURN(model::GgmlType type,
                           model::ParseTypeName(args.GetString("type")));
  if (type != model::GgmlType::kF32 && type != model::GgmlType::kF16 &&
      type != model::GgmlType::kQ8_0 && type != model::GgmlType::kQ4_0) {
    return absl::InvalidArgumentError("--type must be f32, f16, q8_0 or q4_0");
  }
  if (args.GetInt("layers") < 0 || args.GetInt("ctx") < 0) {
    return absl::InvalidArgumentError("--layers and --ctx must be >= 0");
  }
  // Without --vocab-from the built-in byte-level vocabulary is used.
  std::string builtin;
  std::unique_ptr<model::GgufFile> vocab;
  if (args.Has("vocab-from")) {
    TESSERA_ASSIGN_OR_RETURN(
        vocab, model::GgufFile::Open(args.GetString("vocab-from")));
  } else {
    TESSERA_ASSIGN_OR_RETURN(builtin, model::BuiltinVocabularyGguf());
    TESSERA_ASSIGN_OR_RETURN(
        vocab, model::GgufFile::FromBuffer(
                   absl::Span<const uint8_t>(
                       reinterpret_cast<const uint8_t*>(builtin.data()),
                       builtin.size()),
                   "<builtin vocabulary>"));
  }
  model::MakeModelOptions options;
  options.type = type;
  options.seed = static_cast<uint64_t>(args.GetInt("seed"));
  options.n_layers = args.GetInt("layers");
  options.context_length = args.GetInt("ctx");
  return model::MakeModel(shape, *vocab, options, args.GetString("output"));
}

int MakeModelMain(const std::vector<std::string>& argv) {
  std::vector<std::string> names;
  for (const auto& s : model::KnownShapes()) names.push_back(s.name);
  ArgParser args(
      "tessera make-model --shape NAME --vocab-from VOCAB.gguf "
      "--type f32|f16|q8_0|q4_0 --seed S -o OUT.gguf");
  args.String("shape", "", "one of: " + absl::StrJoin(names, ", "))
      .Required("shape");
  args.String("vocab-from", "",
              "GGUF file whose tokenizer the model uses (default: a small "
              "built-in byte-level vocabulary)");
  args.String("type", "f32", "weight type of the matrices");
  args.Int("seed", 0, "random seed");
  args.String("output", "", "output path", "o").Required("output");
  args.Int("layers", 0, "override the number of layers (0 = the shape's)");
  args.Int("ctx", 0, "override the context length (0 = the shape's)");
  return RunParsed(args, argv, "tessera make-model", MakeModelCommand);
}

}  // namespace

TESSERA_REGISTER_COMMAND_NAMED(make_model, "make-model",
                               "write a random-weight model of a real shape",
                         MakeModelMain);

}  // namespace tessera::cli
