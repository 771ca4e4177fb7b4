// Chat prompts: recognise the family of a model's `tokenizer.chat_template`
// (a Jinja template, which this library does not execute) by marker
// strings, and format a conversation the way that family's template does.
//
//   ChatML   "<|im_start|>"         SmolLM2, Qwen2.5
//   Llama 2  "[INST]"               Llama 2 chat, Mistral-style
//   Llama 3  "<|start_header_id|>"  Llama 3.x instruct
//   Zephyr   "<|user|>"             TinyLlama-Chat, Zephyr
//   Phi-3    "<|user|>" + "<|end|>" Phi-3
//   Gemma    "<start_of_turn>"      Gemma
// An absent or unrecognised template gets kPlain, a "Role: text" fallback;
// the caller should warn that output may be poor.
//
// The formatted text never starts with BOS: encode it with
// add_bos = add_bos_default() and parse_special = true, so the role markers
// become their control tokens. All functions are pure and thread-safe.
#ifndef TESSERA_MODEL_CHAT_TEMPLATE_H_
#define TESSERA_MODEL_CHAT_TEMPLATE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "model/tokenizer.h"

namespace tessera::model {

enum class ChatFormat {
  kPlain,  // no template, or one of no known family: the fallback
  kChatMl,
  kLlama2,
  kLlama3,
  kZephyr,
  kPhi3,
  kGemma,
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// The family of `tmpl` ("" and unknown templates give kPlain).
ChatFormat DetectChatFormat(absl::string_view tmpl);
// "plain", "chatml", "llama2", "llama3", "zephyr", "phi3", "gemma".
absl::string_view ChatFormatName(ChatFormat format);

// The system prompt a ChatML template inserts when the conversation has
// none (SmolLM2, Qwen2.5 write it as a literal), or "".
std::string DefaultSystemPrompt(absl::string_view tmpl);

// Formats `messages` in `format`. add_generation_prompt appends the opening
// of an assistant turn. bos_text / eos_text are the texts of the BOS and
// EOS tokens, for the families that put them between turns (Llama 2 uses
// both, Zephyr uses EOS to end each message); the defaults are those of
// every Llama 2 and Zephyr-style vocabulary.
std::string ApplyChatTemplate(ChatFormat format,
                              const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt,
                              absl::string_view bos_text = "<s>",
                              absl::string_view eos_text = "</s>");

// A formatted prompt for `tokenizer`'s own template.
struct ChatPrompt {
  std::string text;
  ChatFormat format = ChatFormat::kPlain;
  bool used_fallback = false;  // the caller should warn
};
// Detects the tokenizer's template, adds its default system prompt where
// the conversation has none, and formats with its BOS/EOS texts.
ChatPrompt FormatChatPrompt(const Tokenizer& tokenizer,
                            const std::vector<ChatMessage>& messages,
                            bool add_generation_prompt);

}  // namespace tessera::model

#endif  // TESSERA_MODEL_CHAT_TEMPLATE_H_
