#include "model/generation.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace tessera::model {

ReferenceLogitsModel::ReferenceLogitsModel(const ReferenceModel& model,
                                           int64_t max_tokens)
    : max_tokens_(max_tokens), session_(model.NewSession(max_tokens)) {}

absl::StatusOr<std::vector<float>> ReferenceLogitsModel::Forward(
    absl::Span<const int32_t> tokens) {
  return session_->Forward(tokens);
}

absl::StatusOr<GenerationResult> Generate(
    LogitsModel& model, const Tokenizer& tokenizer,
    const std::vector<int32_t>& prompt_ids, const GenerationOptions& options,
    const std::function<void(absl::string_view)>& on_text) {
  if (prompt_ids.empty()) {
    return absl::InvalidArgumentError("the prompt has no tokens");
  }
  TESSERA_RETURN_IF_ERROR(ValidateSamplingParams(options.sampling));
  const int64_t n_prompt = static_cast<int64_t>(prompt_ids.size());
  if (n_prompt >= model.max_tokens()) {
    return absl::OutOfRangeError(absl::StrCat(
        "the prompt has ", n_prompt, " tokens but the context holds ",
        model.max_tokens(), " (prompt plus at least one new token)"));
  }
  GenerationResult result;
  result.prompt_tokens = n_prompt;
  Sampler sampler(options.sampling);
  for (int32_t id : prompt_ids) sampler.Accept(id);
  IncrementalDecoder decoder(tokenizer);
  auto emit = [&](const std::string& text) {
    if (text.empty()) return;
    result.text += text;
    if (on_text) on_text(text);
  };

  absl::Time start = absl::Now();
  TESSERA_ASSIGN_OR_RETURN(std::vector<float> logits,
                           model.Forward(prompt_ids));
  result.prefill_time = absl::Now() - start;
  start = absl::Now();
  int64_t length = n_prompt;
  while (static_cast<int64_t>(result.tokens.size()) < options.max_new_tokens) {
    const int32_t token = sampler.Sample(logits);
    if (options.stop_at_end_of_generation &&
        tokenizer.IsEndOfGeneration(token)) {
      result.finish_reason = FinishReason::kEndOfGeneration;
      break;
    }
    result.tokens.push_back(token);
    emit(decoder.Push(token));
    if (static_cast<int64_t>(result.tokens.size()) == options.max_new_tokens ||
        length + 1 > model.max_tokens()) {
      break;  // the last token's logits are unused, or the context is full
    }
    const int32_t next[1] = {token};
    TESSERA_ASSIGN_OR_RETURN(logits, model.Forward(next));
    ++length;
  }
  emit(decoder.Flush());
  result.decode_time = absl::Now() - start;
  return result;
}

}  // namespace tessera::model
