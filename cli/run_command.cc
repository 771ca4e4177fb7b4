// `tessera run`: single-process generation. Prints only the generated text
// on stdout (streamed); load time and speeds go to stderr.
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/args.h"
#include "cli/command.h"
#include "cli/sampling_flags.h"
#include "common/status_macros.h"
#include "kernels/local_model.h"
#include "model/chat_template.h"
#include "model/generation.h"
#include "model/model_file.h"

namespace tessera::cli {
namespace {

// "auto": the format the file stores its layer matrices in, when the
// backends execute it (F32, F16, Q8_0, Q4_0); BF16 runs as F16 and other
// quantised types as Q8_0. Otherwise the named format.
absl::StatusOr<model::GgmlType> ResolveFormat(const std::string& name,
                                              const model::ModelWeights& w) {
  if (name != "auto") return model::ParseTypeName(name);
  const model::GgmlType stored =
      w.layers.empty() ? model::GgmlType::kF32 : w.layers[0].wq.type;
  switch (stored) {
    case model::GgmlType::kF32:
    case model::GgmlType::kF16:
    case model::GgmlType::kQ8_0:
    case model::GgmlType::kQ4_0:
      return stored;
    case model::GgmlType::kBF16:
      return model::GgmlType::kF16;
    default:
      return model::GgmlType::kQ8_0;
  }
}

absl::StatusOr<std::unique_ptr<model::LogitsModel>> MakeEngine(
    const ArgParser& args, const model::ModelFile& file,
    const model::ReferenceModel** reference_out,
    std::unique_ptr<model::ReferenceModel>& reference_storage) {
  const std::string& backend = args.GetString("backend");
  int64_t ctx = args.GetInt("ctx");
  if (ctx <= 0 || ctx > file.config.context_length) {
    ctx = file.config.context_length;
  }
  TESSERA_ASSIGN_OR_RETURN(const model::GgmlType kv_type,
                           kernels::ParseKvType(args.GetString("kv-type")));
  if (backend == "reference") {
    if (kv_type != model::GgmlType::kF32) {
      return absl::InvalidArgumentError(
          "--kv-type: the reference backend keeps its KV cache in f32");
    }
    TESSERA_ASSIGN_OR_RETURN(reference_storage,
                             model::ReferenceModel::Create(file.weights));
    *reference_out = reference_storage.get();
    return std::unique_ptr<model::LogitsModel>(
        new model::ReferenceLogitsModel(*reference_storage, ctx));
  }
  TESSERA_ASSIGN_OR_RETURN(model::GgmlType format,
                           ResolveFormat(args.GetString("format"), file.weights));
  kernels::BackendOptions options;
  options.threads = static_cast<int>(args.GetInt("threads"));
  options.max_context_tokens = ctx;
  options.kv_type = kv_type;
  TESSERA_ASSIGN_OR_RETURN(auto instance,
                           kernels::CreateBackend(backend, options));
  TESSERA_ASSIGN_OR_RETURN(
      auto engine, kernels::BackendLogitsModel::Create(
                       std::move(instance), file.weights, format, ctx));
  return std::unique_ptr<model::LogitsModel>(std::move(engine));
}

absl::StatusOr<std::vector<int32_t>> PromptIds(const ArgParser& args,
                                               const model::Tokenizer& tok) {
  std::string prompt = args.GetString("prompt");
  if (!args.GetBool("chat")) {
    return tok.Encode(prompt, tok.add_bos_default());
  }
  model::ChatPrompt chat = model::FormatChatPrompt(
      tok, {{"user", prompt}}, /*add_generation_prompt=*/true);
  if (chat.used_fallback) {
    std::cerr << "tessera: warning: no known chat template in the model; "
                 "using a plain User/Assistant format\n";
  }
  const std::string& text = chat.text;
  return tok.Encode(text, tok.add_bos_default(), false,
                    /*parse_special=*/true);
}

absl::Status Run(const ArgParser& args) {
  absl::Time start = absl::Now();
  TESSERA_ASSIGN_OR_RETURN(auto file,
                           model::ModelFile::Open(args.GetString("model")));
  const model::ReferenceModel* reference = nullptr;
  std::unique_ptr<model::ReferenceModel> reference_storage;
  TESSERA_ASSIGN_OR_RETURN(
      auto engine, MakeEngine(args, *file, &reference, reference_storage));
  absl::Duration load_time = absl::Now() - start;
  TESSERA_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                           PromptIds(args, *file->tokenizer));
  model::GenerationOptions options;
  options.max_new_tokens = args.GetInt("n");
  TESSERA_ASSIGN_OR_RETURN(options.sampling, SamplingFromFlags(args));
  TESSERA_ASSIGN_OR_RETURN(
      model::GenerationResult result,
      model::Generate(*engine, *file->tokenizer, ids, options,
                      [](absl::string_view text) {
                        std::cout << text << std::flush;
                      }));
  std::cout << std::endl;
  const double prefill_s = absl::ToDoubleSeconds(result.prefill_time);
  const double decode_s = absl::ToDoubleSeconds(result.decode_time);
  std::cerr << absl::StrFormat(
      "load %.2f s | prompt %d tokens, %.1f tok/s | generated %d tokens, "
      "%.1f tok/s | backend %s\n",
      absl::ToDoubleSeconds(load_time), result.prompt_tokens,
      result.prompt_tokens / std::max(prefill_s, 1e-9), result.tokens.size(),
      result.tokens.size() / std::max(decode_s, 1e-9),
      args.GetString("backend"));
  return absl::OkStatus();
}

int RunMain(const std::vector<std::string>& argv) {
  ArgParser args("tessera run --model PATH --prompt TEXT [-n N] [flags]");
  args.String("model", "", "GGUF model file").Required("model");
  args.String("prompt", "", "prompt text").Required("prompt");
  args.Int("n", 128, "tokens to generate", "n");
  args.Bool("chat", false, "wrap the prompt in the model's chat template");
  args.String("backend", "cpu", "reference | cpu | opencl[:PLATFORM:DEVICE]");
  args.String("format", "auto",
              "execution format: auto (the file's) f32 f16 q8_0 q4_0");
  args.Int("threads", 2, "CPU threads");
  args.String("kv-type", "f32",
              "KV cache element type: f32 | f16 (half the memory; cpu only)");
  args.Int("ctx", 0, "context length (0 = the model's)");
  DeclareSamplingFlags(args);
  return RunParsed(args, argv, "tessera run", Run);
}

}  // namespace

TESSERA_REGISTER_COMMAND(run, "generate text from a model on this machine",
                         RunMain);

}  // namespace tessera::cli
