// Tokenizers built from small hand-made specs and GGUF buffers: merge
// order, defaults and the errors of malformed metadata.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace tessera::model {
namespace {

TEST(TokenizerSpecTest, RejectsBadSpecs) {
  VocabSpec good;
  good.model = "llama";
  good.tokens = {"<unk>", "<s>", "</s>", "a"};
  ASSERT_TRUE(Tokenizer::FromSpec(good).ok());

  VocabSpec bad = good;
  bad.model = "bert";
  EXPECT_EQ(Tokenizer::FromSpec(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = good;
  bad.tokens.clear();
  EXPECT_EQ(Tokenizer::FromSpec(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = good;
  bad.scores = {0.0f};
  EXPECT_EQ(Tokenizer::FromSpec(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = good;
  bad.types = {TokenType::kNormal};
  EXPECT_EQ(Tokenizer::FromSpec(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = good;
  bad.model = "gpt2";  // no merges
  EXPECT_EQ(Tokenizer::FromSpec(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad.merges = {"a b"};
  bad.pre = "no-such-pre";
  EXPECT_EQ(Tokenizer::FromSpec(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad.pre = "gpt-2";
  bad.merges = {"ab"};
  EXPECT_EQ(Tokenizer::FromSpec(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TokenizerSpecTest, ScoresDecideSpmMerges) {
  VocabSpec spec;
  spec.model = "llama";
  spec.tokens = {"<unk>",
                 "<s>",
                 "</s>",
                 "\xE2\x96\x81",
                 "a",
                 "b",
                 "c",
                 "ab",
                 "bc",
                 "\xE2\x96\x81"
                 "a"};
  spec.types.assign(spec.tokens.size(), TokenType::kNormal);
  spec.types[0] = TokenType::kUnknown;
  spec.types[1] = spec.types[2] = TokenType::kControl;
  spec.scores = {0, 0, 0, -5, -5, -5, -5, -1, -2, -3};
  auto tokenizer = Tokenizer::FromSpec(spec);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // "▁abc": "ab" (-1) beats "bc" (-2) and "▁a" (-3).
  EXPECT_EQ((*tokenizer)->Encode("abc", false),
            std::vector<int32_t>({3, 7, 6}));
  spec.scores[8] = -0.5f;  // now "bc" wins
  tokenizer = Tokenizer::FromSpec(spec);
  ASSERT_TRUE(tokenizer.ok());
  EXPECT_EQ((*tokenizer)->Encode("abc", false), std::vector<int32_t>({9, 8}));
  // No byte tokens and "z" unknown: <unk>.
  EXPECT_EQ((*tokenizer)->Encode("z", false), std::vector<int32_t>({3, 0}));
  // Control-token text in plain text is not the control token.
  spec.tokens.push_back("<s");
  spec.tokens.push_back(">");
  spec.scores.push_back(0);
  spec.scores.push_back(0);
  spec.types.push_back(TokenType::kNormal);
  spec.types.push_back(TokenType::kNormal);
  tokenizer = Tokenizer::FromSpec(spec);
  ASSERT_TRUE(tokenizer.ok());
  const std::vector<int32_t> ids = (*tokenizer)->Encode("<s>", false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 0);
  EXPECT_EQ((*tokenizer)->Encode("<s>", false, false, true),
            std::vector<int32_t>({1}));
}

VocabSpec TinyBpeSpec(std::vector<std::string> merges, std::string pre) {
  VocabSpec spec;
  spec.model = "gpt2";
  spec.pre = std::move(pre);
  spec.tokens = {"a", "b", "c", "ab", "bc", "abc"};
  spec.merges = std::move(merges);
  return spec;
}

TEST(BpeTokenizerTest, LowestMergeRankFirst) {
  auto tokenizer = Tokenizer::FromSpec(TinyBpeSpec({"b c", "a b"}, "gpt-2"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Encode("abc", false), std::vector<int32_t>({0, 4}));
  tokenizer = Tokenizer::FromSpec(TinyBpeSpec({"a b", "b c"}, "gpt-2"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Encode("abc", false), std::vector<int32_t>({3, 2}));
  EXPECT_FALSE((*tokenizer)->add_bos_default());
  EXPECT_EQ((*tokenizer)->bos_id(), -1);
  EXPECT_EQ((*tokenizer)->Encode("abc", true), std::vector<int32_t>({3, 2}));
}

TEST(BpeTokenizerTest, Llama3WordsThatAreTokensSkipMerges) {
  // "abc" is a token but no merge builds it: Llama 3 takes it whole.
  auto tokenizer =
      Tokenizer::FromSpec(TinyBpeSpec({"a b", "b c"}, "llama-bpe"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Encode("abc", false), std::vector<int32_t>({5}));
  EXPECT_TRUE((*tokenizer)->add_bos_default());
}

TEST(TokenizerGgufTest, MissingKeysAreInvalidArgument) {
  GgufWriter writer;
  writer.SetValue("tokenizer.ggml.tokens", GgufValue::StringArray({"a"}));
  auto bytes = writer.Serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto file = GgufFile::FromBuffer(absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  ASSERT_TRUE(file.ok()) << file.status();
  auto tokenizer = Tokenizer::FromGguf(**file);
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tokenizer.status().message().find("tokenizer.ggml.model"),
            std::string::npos);
}

TEST(TokenizerGgufTest, WrongTypesAndBadTokenTypesAreRejected) {
  GgufWriter writer;
  writer.SetValue("tokenizer.ggml.model", GgufValue::String("llama"));
  writer.SetValue("tokenizer.ggml.tokens", GgufValue::StringArray({"a", "b"}));
  writer.SetValue("tokenizer.ggml.token_type", GgufValue::I32Array({1, 9}));
  auto bytes = writer.Serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto file = GgufFile::FromBuffer(absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(Tokenizer::FromGguf(**file).status().code(),
            absl::StatusCode::kInvalidArgument);

  writer.SetValue("tokenizer.ggml.token_type", GgufValue::I32Array({1, 1}));
  writer.SetValue("tokenizer.ggml.scores", GgufValue::String("nope"));
  bytes = writer.Serialize();
  ASSERT_TRUE(bytes.ok());
  file = GgufFile::FromBuffer(absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_FALSE(Tokenizer::FromGguf(**file).ok());

  writer.SetValue("tokenizer.ggml.scores", GgufValue::F32Array({0, 0}));
  writer.SetValue("tokenizer.ggml.bos_token_id", GgufValue::U32(4000000000u));
  bytes = writer.Serialize();
  ASSERT_TRUE(bytes.ok());
  file = GgufFile::FromBuffer(absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  ASSERT_TRUE(file.ok()) << file.status();
  auto tokenizer = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->bos_id(), 1);   // out of range: the default
  EXPECT_EQ((*tokenizer)->eos_id(), -1);  // default 2 is out of range
}

}  // namespace
}  // namespace tessera::model
