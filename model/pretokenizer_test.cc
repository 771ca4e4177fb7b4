#include "model/pretokenizer.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tessera::model {
namespace {

std::vector<std::string> SplitWith(PreTokenizerType type,
                                   absl::string_view text) {
  auto pre = PreTokenizer::Create(type);
  EXPECT_TRUE(pre.ok()) << pre.status();
  if (!pre.ok()) return {};
  std::vector<std::string> out;
  for (absl::string_view piece : (*pre)->Split(text)) {
    out.emplace_back(piece);
  }
  return out;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizerTest, Gpt2WordsKeepOneLeadingSpace) {
  EXPECT_EQ(SplitWith(PreTokenizerType::kGpt2, "Hello world"),
            Pieces({"Hello", " world"}));
  // Of a run of spaces, the last one goes with the next word (\s+(?!\S)).
  EXPECT_EQ(SplitWith(PreTokenizerType::kGpt2, "a   b"),
            Pieces({"a", "  ", " b"}));
  // Trailing spaces stay together: nothing follows them.
  EXPECT_EQ(SplitWith(PreTokenizerType::kGpt2, "a  "), Pieces({"a", "  "}));
  // A lone tab before a word is its own piece.
  EXPECT_EQ(SplitWith(PreTokenizerType::kGpt2, "\tb"), Pieces({"\t", "b"}));
}

TEST(PreTokenizerTest, Gpt2ContractionsNumbersAndPunctuation) {
  EXPECT_EQ(SplitWith(PreTokenizerType::kGpt2, "I'm you'll 2024!!"),
            Pieces({"I", "'m", " you", "'ll", " 2024", "!!"}));
  // Contractions are case-sensitive in GPT-2.
  EXPECT_EQ(SplitWith(PreTokenizerType::kGpt2, "I'M"), Pieces({"I", "'", "M"}));
}

TEST(PreTokenizerTest, UnicodeSpacesAreWhitespace) {
  // U+3000 and U+00A0 are White_Space, so they behave like spaces.
  EXPECT_EQ(SplitWith(PreTokenizerType::kGpt2, "a\u3000\u3000b"),
            Pieces({"a", "\u3000", "\u3000", "b"}));
  EXPECT_EQ(SplitWith(PreTokenizerType::kGpt2, "x\v\vy"),
            Pieces({"x", "\v", "\v", "y"}));
}

TEST(PreTokenizerTest, Llama3GroupsDigitsByThreeAndNewlines) {
  EXPECT_EQ(SplitWith(PreTokenizerType::kLlama3, "1234567"),
            Pieces({"123", "456", "7"}));
  EXPECT_EQ(SplitWith(PreTokenizerType::kLlama3, "Hello  world\n\n  foo"),
            Pieces({"Hello", " ", " world", "\n\n", " ", " foo"}));
  // Case-insensitive contractions; punctuation takes trailing newlines.
  EXPECT_EQ(SplitWith(PreTokenizerType::kLlama3, "I'M ok.\n\nYes"),
            Pieces({"I", "'M", " ok", ".\n\n", "Yes"}));
  // Any non-letter, non-digit (not a newline) may lead a word.
  EXPECT_EQ(SplitWith(PreTokenizerType::kLlama3, "(hi) $x"),
            Pieces({"(hi", ")", " $", "x"}));
}

TEST(PreTokenizerTest, Qwen2AndStarcoderSplitSingleDigits) {
  EXPECT_EQ(SplitWith(PreTokenizerType::kQwen2, "a 123"),
            Pieces({"a", " ", "1", "2", "3"}));
  EXPECT_EQ(SplitWith(PreTokenizerType::kStarcoder, "x 123"),
            Pieces({"x", " ", "1", "2", "3"}));
}

TEST(PreTokenizerTest, FalconAndDeepseekCoder) {
  EXPECT_EQ(SplitWith(PreTokenizerType::kFalcon, "a+=b 12345"),
            Pieces({"a", "+=", "b", " ", "123", "45"}));
  EXPECT_EQ(SplitWith(PreTokenizerType::kDeepseekCoder, "ab 12\n中文"),
            Pieces({"ab", " ", "1", "2", "\n", "中文"}));
}

TEST(PreTokenizerTest, PiecesAlwaysConcatenateToInput) {
  const std::vector<std::string> alphabet = {"a",
                                             "Z",
                                             "'",
                                             "s",
                                             " ",
                                             "  ",
                                             "\t",
                                             "\n",
                                             "\r",
                                             "1",
                                             "9",
                                             ".",
                                             "!",
                                             "\u00e9",
                                             "\u4e2d",
                                             "\u0301",
                                             "\xF0\x9F\xA6\x99",
                                             "\u3000",
                                             "\xFF",
                                             "\xC3",
                                             "\x80"};
  std::mt19937 rng(42);
  for (PreTokenizerType type :
       {PreTokenizerType::kDefault, PreTokenizerType::kGpt2,
        PreTokenizerType::kLlama3, PreTokenizerType::kQwen2,
        PreTokenizerType::kStarcoder, PreTokenizerType::kFalcon,
        PreTokenizerType::kDeepseekCoder}) {
    auto pre = PreTokenizer::Create(type);
    ASSERT_TRUE(pre.ok()) << pre.status();
    for (int i = 0; i < 300; ++i) {
      std::string text;
      const int n = static_cast<int>(rng() % 20);
      for (int j = 0; j < n; ++j) text += alphabet[rng() % alphabet.size()];
      std::string joined;
      for (absl::string_view piece : (*pre)->Split(text)) {
        EXPECT_FALSE(piece.empty());
        joined.append(piece.data(), piece.size());
      }
      EXPECT_EQ(joined, text);
    }
  }
}

TEST(PreTokenizerTest, NamesMapToRuleSets) {
  auto llama3 = PreTokenizerConfigFromName("llama-bpe");
  ASSERT_TRUE(llama3.ok());
  EXPECT_EQ(llama3->type, PreTokenizerType::kLlama3);
  EXPECT_TRUE(llama3->ignore_merges);
  EXPECT_TRUE(llama3->add_bos);
  auto smollm = PreTokenizerConfigFromName("smollm");
  ASSERT_TRUE(smollm.ok());
  EXPECT_EQ(smollm->type, PreTokenizerType::kStarcoder);
  EXPECT_FALSE(smollm->ignore_merges);
  EXPECT_EQ(PreTokenizerConfigFromName("")->type, PreTokenizerType::kDefault);
  EXPECT_EQ(PreTokenizerConfigFromName("qwen2")->type,
            PreTokenizerType::kQwen2);
  EXPECT_EQ(PreTokenizerConfigFromName("martian").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PreTokenizerTest, TranslatePatternExpandsSpaces) {
  const std::string ws =
      "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
      "\\x{202F}\\x{205F}\\x{3000}";
  EXPECT_EQ(TranslatePattern("\\s+(?!\\S)"), "([" + ws + "]+)");
  EXPECT_EQ(TranslatePattern("a\\s?"), "a[" + ws + "]?");
  EXPECT_EQ(TranslatePattern("[^\\s\\p{L}]"), "[^" + ws + "\\p{L}]");
  EXPECT_EQ(TranslatePattern("\\[x\\]\\s"), "\\[x\\][" + ws + "]");
}

}  // namespace
}  // namespace tessera::model
