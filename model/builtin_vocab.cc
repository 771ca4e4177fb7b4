#include "model/builtin_vocab.h"

#include <cstdio>
#include <vector>

#include "model/gguf.h"

namespace tessera::model {
namespace {

// Token types of the GGUF tokenizer metadata.
constexpr int32_t kNormal = 1;
constexpr int32_t kUnknown = 2;
constexpr int32_t kControl = 3;
constexpr int32_t kByte = 6;

const char* const kWords[] = {
    "the", "and", "was", "to", "a", "he", "she", "it", "they", "of", "in",
    "day", "one", "upon", "time", "there", "little", "big", "play", "happy"};

}  // namespace

absl::StatusOr<std::string> BuiltinVocabularyGguf() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {kUnknown, kControl, kControl};
  for (int b = 0; b < 256; ++b) {
    char piece[8];
    std::snprintf(piece, sizeof(piece), "<0x%02X>", b);
    tokens.push_back(piece);
    types.push_back(kByte);
  }
  const std::string space = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  tokens.push_back(space);
  types.push_back(kNormal);
  for (char c = 33; c < 127; ++c) {
    tokens.push_back(std::string(1, c));
    types.push_back(kNormal);
  }
  for (const char* word : kWords) {
    tokens.push_back(space + word);
    types.push_back(kNormal);
  }
  // Longer pieces score higher so that whole words win over letters.
  std::vector<float> scores;
  for (size_t i = 0; i < tokens.size(); ++i) {
    scores.push_back(types[i] == kNormal ? static_cast<float>(tokens[i].size())
                                         : 0.0f);
  }
  GgufWriter writer;
  writer.SetValue("general.architecture", GgufValue::String("llama"));
  writer.SetValue("tokenizer.ggml.model", GgufValue::String("llama"));
  writer.SetValue("tokenizer.ggml.tokens", GgufValue::StringArray(tokens));
  writer.SetValue("tokenizer.ggml.scores", GgufValue::F32Array(scores));
  writer.SetValue("tokenizer.ggml.token_type", GgufValue::I32Array(types));
  writer.SetValue("tokenizer.ggml.bos_token_id", GgufValue::U32(1));
  writer.SetValue("tokenizer.ggml.eos_token_id", GgufValue::U32(2));
  writer.SetValue("tokenizer.ggml.unknown_token_id", GgufValue::U32(0));
  return writer.Serialize();
}

}  // namespace tessera::model
