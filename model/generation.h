// The single-stream generation loop shared by `tessera run`, tests and the
// worker's last stage: prefill the prompt, then sample and decode one token
// at a time, streaming text as soon as it forms whole UTF-8 characters.
#ifndef TESSERA_MODEL_GENERATION_H_
#define TESSERA_MODEL_GENERATION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "model/reference_model.h"
#include "model/sampler.h"
#include "model/tokenizer.h"

namespace tessera::model {

// Anything that turns the next tokens of one sequence into the logits of its
// last token: the reference model, a local backend, a remote pipeline.
class LogitsModel {
 public:
  virtual ~LogitsModel() = default;
  // Runs `tokens` at the next positions; returns vocab logits of the last.
  virtual absl::StatusOr<std::vector<float>> Forward(
      absl::Span<const int32_t> tokens) = 0;
  // Most tokens (prompt + generated) one sequence may hold.
  virtual int64_t max_tokens() const = 0;
};

// The reference forward pass as a LogitsModel (one session).
class ReferenceLogitsModel : public LogitsModel {
 public:
  // REQUIRES: `model` outlives this object.
  ReferenceLogitsModel(const ReferenceModel& model, int64_t max_tokens);
  absl::StatusOr<std::vector<float>> Forward(
      absl::Span<const int32_t> tokens) override;
  int64_t max_tokens() const override { return max_tokens_; }

 private:
  int64_t max_tokens_;
  std::unique_ptr<ReferenceSession> session_;
};

enum class FinishReason { kLength, kEndOfGeneration };

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids (EOG token excluded)
  std::string text;             // their decoded text
  FinishReason finish_reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  absl::Duration prefill_time;
  absl::Duration decode_time;
};

struct GenerationOptions {
  int64_t max_new_tokens = 100;
  SamplingParams sampling;
  bool stop_at_end_of_generation = true;
};

// Runs prompt_ids through `model` and generates up to max_new_tokens,
// calling `on_text` with each newly completed piece of text.
// InvalidArgument for an empty prompt or bad sampling params; OutOfRange
// when the prompt (plus one generated token) does not fit max_tokens();
// errors of the model otherwise. Generation stops early, without error, when
// the context is full.
absl::StatusOr<GenerationResult> Generate(
    LogitsModel& model, const Tokenizer& tokenizer,
    const std::vector<int32_t>& prompt_ids, const GenerationOptions& options,
    const std::function<void(absl::string_view)>& on_text = nullptr);

}  // namespace tessera::model

#endif  // TESSERA_MODEL_GENERATION_H_
