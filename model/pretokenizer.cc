#include "model/pretokenizer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/unicode.h"
#include "re2/re2.h"

namespace tessera::model {
namespace {

// Unicode White_Space, as the inside of a character class.
constexpr absl::string_view kSpaceClass =
    "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";
constexpr absl::string_view kSpaceLookahead = "\\s+(?!\\S)";

// The expressions as published with the vocabularies (tokenizer.json).
constexpr absl::string_view kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
    "\\s+(?!\\S)";
// The case-insensitive contractions (?i:'s|...) are spelled out so that
// Unicode case folding (U+017F folds to 's') cannot widen them.
constexpr absl::string_view kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|"
    "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr absl::string_view kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|"
    "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// CJK unified ideographs, U+0800..U+4E00 and Hangul, as in deepseek-coder.
constexpr absl::string_view kCjk =
    "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+";

std::vector<absl::string_view> PatternsFor(PreTokenizerType type) {
  switch (type) {
    case PreTokenizerType::kGpt2:
      return {kGpt2};
    case PreTokenizerType::kLlama3:
      return {kLlama3};
    case PreTokenizerType::kQwen2:
      return {kQwen2};
    case PreTokenizerType::kStarcoder:
      return {"\\p{N}", kGpt2};
    case PreTokenizerType::kFalcon:
      return {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"};
    case PreTokenizerType::kDeepseekCoder:
      return {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kCjk, "\\p{N}"};
    case PreTokenizerType::kDefault:
      break;
  }
  return {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"};
}

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

absl::StatusOr<PreTokenizerConfig> PreTokenizerConfigFromName(
    absl::string_view name) {
  using T = PreTokenizerType;
  static const std::pair<absl::string_view, PreTokenizerConfig> kNames[] = {
      {"", {T::kDefault}},
      {"default", {T::kDefault}},
      {"gpt-2", {T::kGpt2}},
      {"phi-2", {T::kGpt2}},
      {"mpt", {T::kGpt2}},
      {"olmo", {T::kGpt2}},
      {"jais", {T::kGpt2}},
      {"roberta-bpe", {T::kGpt2}},
      {"gigachat", {T::kGpt2}},
      {"trillion", {T::kGpt2}},
      {"llama3", {T::kLlama3, true, true}},
      {"llama-v3", {T::kLlama3, true, true}},
      {"llama-bpe", {T::kLlama3, true, true}},
      {"falcon3", {T::kLlama3, true, true}},
      {"pixtral", {T::kLlama3, true, true}},
      {"dbrx", {T::kLlama3}},
      {"smaug-bpe", {T::kLlama3}},
      {"qwen2", {T::kQwen2}},
      {"deepseek-r1-qwen", {T::kQwen2}},
      {"stablelm2", {T::kQwen2}},
      {"starcoder", {T::kStarcoder}},
      {"smollm", {T::kStarcoder}},
      {"refact", {T::kStarcoder}},
      {"command-r", {T::kStarcoder}},
      {"codeshell", {T::kStarcoder}},
      {"exaone", {T::kStarcoder}},
      {"minerva-7b", {T::kStarcoder}},
      {"falcon", {T::kFalcon}},
      {"deepseek-coder", {T::kDeepseekCoder}},
  };
  for (const auto& [known, config] : kNames) {
    if (known == name) return config;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported pre-tokenizer '", name, "' (tokenizer.ggml.pre)"));
}

std::string TranslatePattern(absl::string_view pattern) {
  std::string out;
  bool in_class = false;
  size_t i = 0;
  while (i < pattern.size()) {
    const absl::string_view rest = pattern.substr(i);
    if (!in_class && absl::StartsWith(rest, kSpaceLookahead)) {
      absl::StrAppend(&out, "([", kSpaceClass, "]+)");
      i += kSpaceLookahead.size();
    } else if (absl::StartsWith(rest, "\\s")) {
      if (in_class) {
        absl::StrAppend(&out, kSpaceClass);
      } else {
        absl::StrAppend(&out, "[", kSpaceClass, "]");
      }
      i += 2;
    } else if (rest[0] == '\\' && rest.size() > 1) {
      out.append(rest.data(), 2);  // keep escapes such as \[ or \p whole
      i += 2;
    } else {
      if (rest[0] == '[') in_class = true;
      if (rest[0] == ']') in_class = false;
      out.push_back(rest[0]);
      ++i;
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(
    PreTokenizerType type) {
  auto pre = std::unique_ptr<PreTokenizer>(new PreTokenizer());
  for (const absl::string_view pattern : PatternsFor(type)) {
    Rule rule;
    RE2::Options options;
    options.set_log_errors(false);
    rule.re = std::make_unique<RE2>(TranslatePattern(pattern), options);
    if (!rule.re->ok()) {
      return absl::InternalError(absl::StrCat("pre-tokenizer regex '", pattern,
                                              "': ", rule.re->error()));
    }
    rule.has_space_lookahead = absl::StrContains(pattern, kSpaceLookahead);
    pre->rules_.push_back(std::move(rule));
  }
  return pre;
}

PreTokenizer::~PreTokenizer() = default;

std::vector<absl::string_view> PreTokenizer::Split(
    absl::string_view text) const {
  std::vector<absl::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  std::vector<absl::string_view> next;
  for (const Rule& rule : rules_) {
    next.clear();
    next.reserve(pieces.size() * 2);
    for (const absl::string_view piece : pieces) {
      SplitPiece(rule, piece, &next);
    }
    pieces.swap(next);
  }
  return pieces;
}

void PreTokenizer::SplitPiece(const Rule& rule, absl::string_view piece,
                              std::vector<absl::string_view>* out) const {
  const re2::StringPiece text(piece.data(), piece.size());
  re2::StringPiece match;
  size_t pos = 0;      // where the next search starts
  size_t emitted = 0;  // end of the last piece pushed
  while (pos < piece.size()) {
    // Try a match right here first: it is the common case and cheaper than
    // a search (no reverse scan for the start). A match at `pos` is also
    // the leftmost one, so the result is the same. Asking for the whole
    // match only keeps RE2 on its fast DFA path.
    if (!rule.re->Match(text, pos, text.size(), RE2::ANCHOR_START, &match, 1) &&
        !rule.re->Match(text, pos, text.size(), RE2::UNANCHORED, &match, 1)) {
      break;
    }
    const size_t start = match.data() - piece.data();
    size_t end = start + match.size();
    if (rule.has_space_lookahead) {
      end = ApplySpaceLookahead(rule, piece, start, end);
    }
    if (end == start) {  // no pattern here matches empty; be safe anyway
      pos = start + 1;
      continue;
    }
    if (start > emitted) out->push_back(piece.substr(emitted, start - emitted));
    out->push_back(piece.substr(start, end - start));
    emitted = pos = end;
  }
  if (emitted < piece.size()) out->push_back(piece.substr(emitted));
}

size_t PreTokenizer::ApplySpaceLookahead(const Rule& rule,
                                         absl::string_view piece, size_t start,
                                         size_t end) const {
  // Only a match of 2+ characters ending in a space and followed by more
  // text can be a `(\s+)` that (?!\S) would shorten; ask RE2 for the group
  // (its slow path) only then.
  if (end >= piece.size() || end - start < 2) return end;
  size_t last = end - 1;
  while (last > start && IsContinuationByte(piece[last])) --last;
  if (last == start) return end;
  size_t cursor = last;
  if (!IsUnicodeWhitespace(DecodeUtf8(piece, &cursor))) return end;
  const re2::StringPiece text(piece.data(), piece.size());
  re2::StringPiece groups[2];
  if (!rule.re->Match(text, start, text.size(), RE2::ANCHOR_START, groups, 2) ||
      groups[1].data() == nullptr) {
    return end;
  }
  // The spaces are followed by a non-space: the lookahead gives the last
  // one back.
  return last;
}

}  // namespace tessera::model
