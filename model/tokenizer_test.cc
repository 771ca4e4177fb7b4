#include "model/tokenizer.h"

#include <array>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/mapped_file.h"
#include "common/testing/golden.h"
#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "model/gguf.h"
#include "model/spm_tokenizer.h"
#include "model/unicode.h"

namespace tessera::model {
namespace {

std::string VocabPath(const std::string& name) {
  return testing::SharedPath("vocab/ggml-vocab-" + name + ".gguf");
}

// Keeps the GgufFile alive only while building the tokenizer.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(
    const std::string& path) {
  auto file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  return Tokenizer::FromGguf(**file);
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// The .inp file holds texts each followed by "\n__ggml_vocab_test__\n"; the
// .out file one line of ids per text.
std::vector<VocabCase> LoadVocabCases(const std::string& gguf_path) {
  auto inp = ReadFileToString(gguf_path + ".inp");
  auto out = ReadFileToString(gguf_path + ".out");
  EXPECT_TRUE(inp.ok()) << inp.status();
  EXPECT_TRUE(out.ok()) << out.status();
  if (!inp.ok() || !out.ok()) return {};
  std::vector<std::string> texts =
      absl::StrSplit(*inp, "\n__ggml_vocab_test__\n");
  EXPECT_EQ(texts.back(), "");  // the file ends with a separator
  texts.pop_back();
  std::vector<std::string> lines = absl::StrSplit(*out, '\n');
  EXPECT_EQ(lines.back(), "");
  lines.pop_back();
  EXPECT_EQ(texts.size(), lines.size());
  std::vector<VocabCase> cases;
  for (size_t i = 0; i < texts.size() && i < lines.size(); ++i) {
    VocabCase c{texts[i], {}};
    for (absl::string_view field :
         absl::StrSplit(lines[i], ' ', absl::SkipEmpty())) {
      int32_t id = 0;
      EXPECT_TRUE(absl::SimpleAtoi(field, &id)) << field;
      c.ids.push_back(id);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

class VocabVectorsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabVectorsTest, EncodesReferenceVectorsExactly) {
  const std::string path = VocabPath(GetParam());
  TESSERA_REQUIRE_SHARED_FILE(path);
  auto tokenizer = LoadTokenizer(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::vector<VocabCase> cases = LoadVocabCases(path);
  ASSERT_GE(cases.size(), 40u);
  int mismatches = 0;
  for (const VocabCase& c : cases) {
    const std::vector<int32_t> ids = (*tokenizer)->Encode(c.text, false);
    EXPECT_EQ(ids, c.ids) << "text: '" << c.text << "'";
    mismatches += ids != c.ids;
  }
  EXPECT_EQ(mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(Shared, VocabVectorsTest,
                         ::testing::Values("llama-spm", "gpt-2", "starcoder"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// Decoding gives back the text; SentencePiece vocabularies keep the space
// that Encode put in front.
class VocabRoundTripTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabRoundTripTest, DecodeInvertsEncode) {
  const std::string path = VocabPath(GetParam());
  TESSERA_REQUIRE_SHARED_FILE(path);
  TESSERA_REQUIRE_SHARED_FILE(VocabPath("gpt-2") + ".inp");
  auto tokenizer = LoadTokenizer(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  std::vector<VocabCase> cases = LoadVocabCases(VocabPath("gpt-2"));
  cases.push_back({"int main() {\n\treturn 0;\n}\n", {}});
  cases.push_back({"Ünïcödé  mixed\u00a0spaces\u3000and 数字 123456789", {}});
  for (const VocabCase& c : cases) {
    const std::vector<int32_t> ids = tok.Encode(c.text, false);
    const std::string prefix =
        tok.add_space_prefix() && !c.text.empty() ? " " : "";
    EXPECT_EQ(tok.Decode(ids), prefix + c.text);
    for (const int32_t id : ids) {
      ASSERT_GE(id, 0);
      ASSERT_LT(id, tok.vocab_size());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, VocabRoundTripTest,
                         ::testing::Values("llama-spm", "gpt-2", "starcoder",
                                           "phi-3", "falcon", "deepseek-coder"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// SentencePiece merges run per stretch of text between runs of "▁" when no
// piece has an inner "▁"; one extra piece with an inner "▁" (which the texts
// never contain) turns that off, and the ids must not change.
TEST(SpmEncoderTest, SplittingAtSpacesIsExact) {
  const std::string path = VocabPath("llama-spm");
  TESSERA_REQUIRE_SHARED_FILE(path);
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto spec = VocabSpecFromGguf(**file);
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::vector<bool> mergeable;
  for (const TokenType type : spec->types) {
    mergeable.push_back(type == TokenType::kNormal);
  }
  std::array<int32_t, 256> bytes;
  for (int b = 0; b < 256; ++b) bytes[b] = 3 + b;
  const SpmEncoder split(spec->tokens, spec->scores, mergeable, bytes, 0);
  spec->tokens.push_back("\x01\xE2\x96\x81\x01");
  spec->scores.push_back(-1e9f);
  mergeable.push_back(true);
  const SpmEncoder whole(spec->tokens, spec->scores, mergeable, bytes, 0);
  EXPECT_TRUE(split.splits_at_spaces());
  EXPECT_FALSE(whole.splits_at_spaces());
  std::string all;
  for (const VocabCase& c : LoadVocabCases(path)) {
    if (c.text.empty()) continue;  // Encode adds no space prefix to ""
    const std::string escaped =
        absl::StrReplaceAll(" " + c.text, {{" ", "\xE2\x96\x81"}});
    std::vector<int32_t> a, b;
    split.Encode(escaped, &a);
    whole.Encode(escaped, &b);
    EXPECT_EQ(a, b) << c.text;
    EXPECT_EQ(a, c.ids) << c.text;
    all += escaped;
  }
  std::vector<int32_t> a, b;
  split.Encode(all, &a);
  whole.Encode(all, &b);
  EXPECT_EQ(a, b);
}

TEST(StoriesTokenizerTest, PromptsMatchGolden) {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesGoldenPath());
  auto tokenizer = LoadTokenizer(testing::StoriesModelPath());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_TRUE(tok.add_bos_default());
  EXPECT_FALSE(tok.add_eos_default());
  EXPECT_EQ(tok.Encode("Once upon a time", true),
            std::vector<int32_t>({1, 403, 407, 261, 378}));
  auto cases = testing::LoadGoldenCases(testing::StoriesGoldenPath());
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_FALSE(cases->empty());
  for (const testing::GoldenCase& golden : *cases) {
    EXPECT_EQ(tok.Encode(golden.prompt, tok.add_bos_default()),
              golden.prompt_ids_with_bos);
    // The continuation is the concatenation of the generated pieces, so it
    // survives a round trip after the prefix space.
    const std::vector<int32_t> ids = tok.Encode(golden.continuation, false);
    EXPECT_EQ(tok.Decode(ids), " " + golden.continuation);
  }
}

TEST(StoriesTokenizerTest, PiecesAndControlTokens) {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
  auto tokenizer = LoadTokenizer(testing::StoriesModelPath());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  EXPECT_EQ(tok.TokenToPiece(1), "");           // <s>
  EXPECT_EQ(tok.TokenToPiece(2), "");           // </s>
  EXPECT_EQ(tok.TokenToPiece(3 + '\n'), "\n");  // <0x0A>
  EXPECT_EQ(tok.token_text(1), "<s>");
  EXPECT_EQ(tok.TokenToPiece(-1), "");
  EXPECT_EQ(tok.TokenToPiece(512), "");
  EXPECT_EQ(tok.Decode({1, 403, 407, 261, 378, 2}), " Once upon a time");
  EXPECT_TRUE(tok.IsEndOfGeneration(2));
  EXPECT_FALSE(tok.IsEndOfGeneration(1));
  EXPECT_EQ(tok.Encode("", true), std::vector<int32_t>({1}));
  EXPECT_TRUE(tok.Encode("", false).empty());
  const std::vector<int32_t> with_eos = tok.Encode("Once", true, true);
  ASSERT_GE(with_eos.size(), 3u);
  EXPECT_EQ(with_eos.back(), 2);
}

TEST(SpecialTokenTest, ParseSpecialOnlyWhenAsked) {
  TESSERA_REQUIRE_SHARED_FILE(VocabPath("gpt-2"));
  auto tokenizer = LoadTokenizer(VocabPath("gpt-2"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  const std::string text = "Hi<|endoftext|>there";
  const std::vector<int32_t> parsed = tok.Encode(text, false, false, true);
  const std::vector<int32_t> plain = tok.Encode(text, false, false, false);
  EXPECT_EQ(std::count(parsed.begin(), parsed.end(), 50256), 1);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 50256), 0);
  EXPECT_EQ(tok.Decode(plain), text);
  EXPECT_EQ(tok.Decode(parsed), "Hithere");  // control tokens print nothing
  EXPECT_TRUE(tok.IsEndOfGeneration(50256));
  EXPECT_FALSE(tok.add_bos_default());
  EXPECT_EQ(tok.bos_id(), 50256);
  EXPECT_EQ(tok.Encode("x", true).front(), 50256);
  EXPECT_EQ(tok.Encode("x", true).size(), tok.Encode("x", false).size() + 1);
}

TEST(SpecialTokenTest, Phi3ChatTokensAndRstrip) {
  TESSERA_REQUIRE_SHARED_FILE(VocabPath("phi-3"));
  auto tokenizer = LoadTokenizer(VocabPath("phi-3"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  const std::vector<int32_t> ids =
      tok.Encode("<|user|>\nHi<|end|>\n<|assistant|>\n", true, false, true);
  // The newline after each special token is swallowed (rstrip), and the
  // text after a special token gets the SentencePiece space prefix.
  std::vector<int32_t> expected = {1, 32010};
  const std::vector<int32_t> hi = tok.Encode("Hi", false);
  expected.insert(expected.end(), hi.begin(), hi.end());
  expected.push_back(32007);
  expected.push_back(32001);
  EXPECT_EQ(ids, expected);
  EXPECT_TRUE(tok.IsEndOfGeneration(32007));  // <|end|>
  EXPECT_TRUE(tok.IsEndOfGeneration(32000));  // <|endoftext|>, the EOS
  EXPECT_FALSE(tok.IsEndOfGeneration(32001));
  EXPECT_FALSE(tok.chat_template().empty());
}

TEST(SpecialTokenTest, UserDefinedTokensMatchWithoutParseSpecial) {
  TESSERA_REQUIRE_SHARED_FILE(VocabPath("deepseek-coder"));
  auto tokenizer = LoadTokenizer(VocabPath("deepseek-coder"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  ASSERT_EQ(tok.token_text(32019), "<|User|>");
  ASSERT_EQ(tok.token_type(32019), TokenType::kUserDefined);
  const std::vector<int32_t> ids = tok.Encode("a<|User|>b", false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 32019), 1);
  EXPECT_EQ(tok.Decode(ids), "a<|User|>b");
  EXPECT_TRUE(tok.add_bos_default());
  EXPECT_EQ(tok.Encode("a", true).front(), 32013);
}

TEST(IncrementalDecoderTest, NeverSplitsCharacters) {
  TESSERA_REQUIRE_SHARED_FILE(VocabPath("llama-spm"));
  auto tokenizer = LoadTokenizer(VocabPath("llama-spm"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  const std::string text = "Hi \xF0\x9F\xA6\x99 llama \xE1\x9E\x80 \xC3\xA4!";
  const std::vector<int32_t> ids = tok.Encode(text, true);
  IncrementalDecoder decoder(tok);
  std::string streamed;
  for (const int32_t id : ids) {
    const std::string chunk = decoder.Push(id);
    EXPECT_EQ(SanitizeUtf8(chunk), chunk) << "partial UTF-8 emitted";
    streamed += chunk;
  }
  streamed += decoder.Flush();
  EXPECT_EQ(streamed, " " + text);
}

TEST(IncrementalDecoderTest, InvalidAndTruncatedBytesBecomeReplacement) {
  TESSERA_REQUIRE_SHARED_FILE(VocabPath("llama-spm"));
  auto tokenizer = LoadTokenizer(VocabPath("llama-spm"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  auto byte = [](int b) { return 3 + b; };  // <0xNN> tokens start at 3
  IncrementalDecoder decoder(tok);
  EXPECT_EQ(decoder.Push(byte(0xFF)), "\xEF\xBF\xBD");
  EXPECT_EQ(decoder.Push(byte(0xF0)), "");
  EXPECT_EQ(decoder.Push(byte(0x9F)), "");
  EXPECT_EQ(decoder.Flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(decoder.Flush(), "");
  EXPECT_EQ(decoder.Push(byte(0xC3)), "");
  EXPECT_EQ(decoder.Push(byte(0xA4)), "\xC3\xA4");
}

TEST(VocabRobustnessTest, RandomBytesRoundTripLosslessly) {
  for (const std::string name : {"llama-spm", "gpt-2"}) {
    const std::string path = VocabPath(name);
    TESSERA_REQUIRE_SHARED_FILE(path);
    auto tokenizer = LoadTokenizer(path);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    const Tokenizer& tok = **tokenizer;
    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
      std::string text(rng() % 64, '\0');
      for (char& c : text) {
        c = static_cast<char>(rng() % 4 == 0 ? ' ' : rng() & 0xFF);
      }
      const std::string prefix =
          tok.add_space_prefix() && !text.empty() ? " " : "";
      for (const bool special : {false, true}) {
        EXPECT_EQ(tok.Decode(tok.Encode(text, true, true, special)),
                  prefix + text)
            << name;
      }
    }
  }
}

TEST(VocabRobustnessTest, ConcurrentEncodesAgree) {
  const std::string path = VocabPath("gpt-2");
  TESSERA_REQUIRE_SHARED_FILE(path);
  auto tokenizer = LoadTokenizer(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& tok = **tokenizer;
  std::string text;
  for (const VocabCase& c : LoadVocabCases(path)) text += c.text;
  const std::vector<int32_t> expected = tok.Encode(text, false);
  std::vector<std::vector<int32_t>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&tok, &text, &result] {
      for (int i = 0; i < 20; ++i) result = tok.Encode(text, false);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
}

}  // namespace
}  // namespace tessera::model
