#include "model/chat_template.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace tessera::model {
namespace {

std::string Strip(absl::string_view text) {
  return std::string(absl::StripAsciiWhitespace(text));
}

std::string FormatChatMl(const std::vector<ChatMessage>& messages,
                         bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) {
    absl::StrAppend(&out, "<|im_start|>", m.role, "\n", m.content,
                    "<|im_end|>\n");
  }
  if (add_generation_prompt) absl::StrAppend(&out, "<|im_start|>assistant\n");
  return out;
}

// Meta's format: system text goes inside the next user turn, each later
// user turn starts with BOS, each assistant answer ends with EOS.
std::string FormatLlama2(const std::vector<ChatMessage>& messages,
                         absl::string_view bos_text,
                         absl::string_view eos_text) {
  std::string out;
  std::string system;
  bool first_turn = true;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      absl::StrAppend(&system, "<<SYS>>\n", m.content, "\n<</SYS>>\n\n");
    } else if (m.role == "assistant") {
      absl::StrAppend(&out, " ", Strip(m.content), " ", eos_text);
    } else {
      absl::StrAppend(&out, first_turn ? "" : bos_text, "[INST] ",
                      Strip(system + m.content), " [/INST]");
      system.clear();
      first_turn = false;
    }
  }
  return out;  // "[/INST]" already invites the answer
}

std::string FormatLlama3(const std::vector<ChatMessage>& messages,
                         bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) {
    absl::StrAppend(&out, "<|start_header_id|>", m.role,
                    "<|end_header_id|>\n\n", Strip(m.content), "<|eot_id|>");
  }
  if (add_generation_prompt) {
    absl::StrAppend(&out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
  }
  return out;
}

// Zephyr and Phi-3 differ only in the end-of-message marker.
std::string FormatRoleTags(const std::vector<ChatMessage>& messages,
                           bool add_generation_prompt,
                           absl::string_view end_of_message) {
  std::string out;
  for (const ChatMessage& m : messages) {
    absl::StrAppend(&out, "<|", m.role, "|>\n", m.content, end_of_message,
                    "\n");
  }
  if (add_generation_prompt) absl::StrAppend(&out, "<|assistant|>\n");
  return out;
}

// Gemma has no system role: system text opens the next user message.
std::string FormatGemma(const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt) {
  std::string out;
  std::string system;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      absl::StrAppend(&system, m.content, "\n\n");
      continue;
    }
    const bool model = m.role == "assistant";
    absl::StrAppend(&out, "<start_of_turn>", model ? "model" : m.role, "\n",
                    model ? "" : system, Strip(m.content), "<end_of_turn>\n");
    if (!model) system.clear();
  }
  if (add_generation_prompt) absl::StrAppend(&out, "<start_of_turn>model\n");
  return out;
}

std::string FormatFallback(const std::vector<ChatMessage>& messages,
                           bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) {
    std::string role = m.role;
    if (!role.empty()) role[0] = absl::ascii_toupper(role[0]);
    absl::StrAppend(&out, role, ": ", m.content, "\n");
  }
  if (add_generation_prompt) absl::StrAppend(&out, "Assistant:");
  return out;
}

}  // namespace

ChatFormat DetectChatFormat(absl::string_view tmpl) {
  if (absl::StrContains(tmpl, "<|im_start|>")) return ChatFormat::kChatMl;
  if (absl::StrContains(tmpl, "<|start_header_id|>")) {
    return ChatFormat::kLlama3;
  }
  if (absl::StrContains(tmpl, "<start_of_turn>")) return ChatFormat::kGemma;
  if (absl::StrContains(tmpl, "<|user|>")) {
    return absl::StrContains(tmpl, "<|end|>") ? ChatFormat::kPhi3
                                              : ChatFormat::kZephyr;
  }
  if (absl::StrContains(tmpl, "[INST]")) return ChatFormat::kLlama2;
  return ChatFormat::kPlain;
}

absl::string_view ChatFormatName(ChatFormat format) {
  switch (format) {
    case ChatFormat::kPlain:
      return "plain";
    case ChatFormat::kChatMl:
      return "chatml";
    case ChatFormat::kLlama2:
      return "llama2";
    case ChatFormat::kLlama3:
      return "llama3";
    case ChatFormat::kZephyr:
      return "zephyr";
    case ChatFormat::kPhi3:
      return "phi3";
    case ChatFormat::kGemma:
      return "gemma";
  }
  return "plain";
}

std::string DefaultSystemPrompt(absl::string_view tmpl) {
  // A literal system turn inside a Jinja string; the newline may be written
  // as the escape \n or as a real newline.
  static const RE2* const kLiteral =
      new RE2(R"(<\|im_start\|>system(?:\\n|\n)([^'"{}<\\]+)<\|im_end\|>)");
  std::string prompt;
  if (!RE2::PartialMatch(re2::StringPiece(tmpl.data(), tmpl.size()), *kLiteral,
                         &prompt)) {
    return "";
  }
  return prompt;
}

std::string ApplyChatTemplate(ChatFormat format,
                              const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt,
                              absl::string_view bos_text,
                              absl::string_view eos_text) {
  switch (format) {
    case ChatFormat::kChatMl:
      return FormatChatMl(messages, add_generation_prompt);
    case ChatFormat::kLlama2:
      return FormatLlama2(messages, bos_text, eos_text);
    case ChatFormat::kLlama3:
      return FormatLlama3(messages, add_generation_prompt);
    case ChatFormat::kZephyr:
      return FormatRoleTags(messages, add_generation_prompt, eos_text);
    case ChatFormat::kPhi3:
      return FormatRoleTags(messages, add_generation_prompt, "<|end|>");
    case ChatFormat::kGemma:
      return FormatGemma(messages, add_generation_prompt);
    case ChatFormat::kPlain:
      break;
  }
  return FormatFallback(messages, add_generation_prompt);
}

ChatPrompt FormatChatPrompt(const Tokenizer& tokenizer,
                            const std::vector<ChatMessage>& messages,
                            bool add_generation_prompt) {
  ChatPrompt prompt;
  prompt.format = DetectChatFormat(tokenizer.chat_template());
  prompt.used_fallback = prompt.format == ChatFormat::kPlain;
  std::vector<ChatMessage> conversation;
  const std::string system = DefaultSystemPrompt(tokenizer.chat_template());
  if (prompt.format == ChatFormat::kChatMl && !system.empty() &&
      (messages.empty() || messages.front().role != "system")) {
    conversation.push_back({"system", system});
  }
  conversation.insert(conversation.end(), messages.begin(), messages.end());
  prompt.text =
      ApplyChatTemplate(prompt.format, conversation, add_generation_prompt,
                        tokenizer.token_text(tokenizer.bos_id()),
                        tokenizer.token_text(tokenizer.eos_id()));
  return prompt;
}

}  // namespace tessera::model
