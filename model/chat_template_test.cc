#include "model/chat_template.h"

#include <string>
#include <vector>

#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "model/gguf.h"

namespace tessera::model {
namespace {

// Abbreviated but faithful excerpts of published templates.
constexpr absl::string_view kSmolLm2 =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != "
    "'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named "
    "SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";
constexpr absl::string_view kTinyLlama =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n{% endif %}"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n"
    "{% endif %}\n{% endfor %}";
constexpr absl::string_view kLlama3 =
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim "
    "+ '<|eot_id|>' }}{% endfor %}";
constexpr absl::string_view kLlama2 =
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + "
    "content.strip() + ' [/INST]' }}{% endif %}";

const std::vector<ChatMessage> kConversation = {
    {"system", "Be brief."},
    {"user", "Hi!"},
    {"assistant", "Hello."},
    {"user", "Name a color."},
};

TEST(ChatTemplateTest, DetectsFamilies) {
  EXPECT_EQ(DetectChatFormat(kSmolLm2), ChatFormat::kChatMl);
  EXPECT_EQ(DetectChatFormat(kTinyLlama), ChatFormat::kZephyr);
  EXPECT_EQ(DetectChatFormat(kLlama3), ChatFormat::kLlama3);
  EXPECT_EQ(DetectChatFormat(kLlama2), ChatFormat::kLlama2);
  EXPECT_EQ(DetectChatFormat("<|user|>{{x}}<|end|>"), ChatFormat::kPhi3);
  EXPECT_EQ(DetectChatFormat("<start_of_turn>user"), ChatFormat::kGemma);
  EXPECT_EQ(DetectChatFormat(""), ChatFormat::kPlain);
  EXPECT_EQ(DetectChatFormat("{{ messages }}"), ChatFormat::kPlain);
  EXPECT_EQ(ChatFormatName(ChatFormat::kLlama3), "llama3");
  EXPECT_EQ(ChatFormatName(ChatFormat::kPlain), "plain");
}

TEST(ChatTemplateTest, ChatMl) {
  EXPECT_EQ(ApplyChatTemplate(ChatFormat::kChatMl, kConversation, true, "", ""),
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi!<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n"
            "<|im_start|>user\nName a color.<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateTest, DefaultSystemPromptFromTemplateLiteral) {
  EXPECT_EQ(DefaultSystemPrompt(kSmolLm2),
            "You are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face");
  EXPECT_EQ(DefaultSystemPrompt(
                "{{- '<|im_start|>system\nYou are Qwen, created by Alibaba "
                "Cloud. You are a helpful assistant.<|im_end|>\n' }}"),
            "You are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.");
  // A system turn built from variables is no default prompt.
  EXPECT_EQ(DefaultSystemPrompt("<|im_start|>system\\n' + message['content']"
                                " + '<|im_end|>"),
            "");
}

TEST(ChatTemplateTest, Llama2PutsSystemInFirstTurn) {
  EXPECT_EQ(ApplyChatTemplate(ChatFormat::kLlama2, kConversation, true),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST] Hello. </s>"
            "<s>[INST] Name a color. [/INST]");
}

TEST(ChatTemplateTest, Llama3) {
  EXPECT_EQ(ApplyChatTemplate(ChatFormat::kLlama3, {{"user", " Hi! \n"}}, true,
                              "<|begin_of_text|>", "<|eot_id|>"),
            "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplateTest, ZephyrAndPhi3) {
  const std::vector<ChatMessage> chat = {{"user", "Hi"}};
  EXPECT_EQ(ApplyChatTemplate(ChatFormat::kZephyr, chat, true, "<s>", "</s>"),
            "<|user|>\nHi</s>\n<|assistant|>\n");
  EXPECT_EQ(ApplyChatTemplate(ChatFormat::kZephyr, chat, false, "<s>", "</s>"),
            "<|user|>\nHi</s>\n");
  EXPECT_EQ(ApplyChatTemplate(ChatFormat::kPhi3, chat, true, "<s>", "</s>"),
            "<|user|>\nHi<|end|>\n<|assistant|>\n");
}

TEST(ChatTemplateTest, GemmaFoldsSystemIntoUserTurn) {
  EXPECT_EQ(
      ApplyChatTemplate(
          ChatFormat::kGemma,
          {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}},
          true, "", ""),
      "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
      "<start_of_turn>model\nHello<end_of_turn>\n"
      "<start_of_turn>model\n");
}

TEST(ChatTemplateTest, FallbackIsPlainText) {
  EXPECT_EQ(ApplyChatTemplate(ChatFormat::kPlain, kConversation, true, "", ""),
            "System: Be brief.\nUser: Hi!\nAssistant: Hello.\n"
            "User: Name a color.\nAssistant:");
}

TEST(ChatTemplateTest, Phi3VocabularyPromptUsesControlTokens) {
  const std::string path = testing::SharedPath("vocab/ggml-vocab-phi-3.gguf");
  TESSERA_REQUIRE_SHARED_FILE(path);
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto tokenizer = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const ChatPrompt prompt =
      FormatChatPrompt(**tokenizer, {{"user", "Hello"}}, true);
  EXPECT_EQ(prompt.format, ChatFormat::kPhi3);
  EXPECT_FALSE(prompt.used_fallback);
  EXPECT_EQ(prompt.text, "<|user|>\nHello<|end|>\n<|assistant|>\n");
  const std::vector<int32_t> ids =
      (*tokenizer)
          ->Encode(prompt.text, (*tokenizer)->add_bos_default(), false, true);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.front(), 1);     // <s>
  EXPECT_EQ(ids[1], 32010);      // <|user|>
  EXPECT_EQ(ids.back(), 32001);  // <|assistant|>
}

TEST(ChatTemplateTest, VocabularyWithoutTemplateFallsBack) {
  const std::string path =
      testing::SharedPath("vocab/ggml-vocab-llama-spm.gguf");
  TESSERA_REQUIRE_SHARED_FILE(path);
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto tokenizer = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const ChatPrompt prompt =
      FormatChatPrompt(**tokenizer, {{"user", "Hello"}}, true);
  EXPECT_EQ(prompt.format, ChatFormat::kPlain);
  EXPECT_TRUE(prompt.used_fallback);
  EXPECT_EQ(prompt.text, "User: Hello\nAssistant:");
}

}  // namespace
}  // namespace tessera::model
