#include "model/tokenizer.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "model/bpe_tokenizer.h"
#include "model/pretokenizer.h"
#include "model/spm_tokenizer.h"
#include "model/unicode.h"

namespace tessera::model {
namespace {

constexpr absl::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581 "▁"

// Tokens that end a turn in common chat vocabularies, found by their text
// (GGUF files rarely name them all in metadata).
constexpr absl::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
    // <｜end▁of▁sentence｜> (DeepSeek), spelled in escapes.
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81"
    "of\xE2\x96\x81"
    "sentence\xEF\xBD\x9C>",
};

bool IsSpecialType(TokenType type) {
  return type == TokenType::kControl || type == TokenType::kUserDefined ||
         type == TokenType::kUnknown;
}

bool IsMergeable(TokenType type) {
  return type == TokenType::kNormal || type == TokenType::kUserDefined ||
         type == TokenType::kUndefined;
}

// The byte of a "<0xNN>" token, or -1.
int ParseByteToken(absl::string_view text) {
  if (text.size() != 6 || !absl::StartsWith(text, "<0x") || text[5] != '>') {
    return -1;
  }
  int value = 0;
  for (const char c : text.substr(3, 2)) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return -1;
    value = value * 16 + (absl::ascii_isdigit(static_cast<unsigned char>(c))
                              ? c - '0'
                              : absl::ascii_tolower(c) - 'a' + 10);
  }
  return value;
}

std::string PieceOf(bool spm, absl::string_view text, TokenType type) {
  switch (type) {
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUnused:
      return "";
    case TokenType::kUserDefined:
      return std::string(text);
    case TokenType::kByte: {
      const int byte = spm ? ParseByteToken(text) : -1;
      return byte < 0 ? "" : std::string(1, static_cast<char>(byte));
    }
    case TokenType::kNormal:
    case TokenType::kUndefined:
      break;
  }
  return spm ? absl::StrReplaceAll(text, {{kSpmSpace, " "}})
             : ByteLevelDecode(text);
}

// C isspace(): what special-token stripping swallows.
bool IsAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// An id read from metadata: -1 when absent or outside the vocabulary.
absl::StatusOr<int32_t> OptionalId(const GgufFile& file, absl::string_view key,
                                   size_t vocab_size) {
  if (file.Find(key) == nullptr) return -1;
  TESSERA_ASSIGN_OR_RETURN(const int64_t id, file.GetInt(key));
  if (id < 0 || static_cast<uint64_t>(id) >= vocab_size) return -1;
  return static_cast<int32_t>(id);
}

absl::StatusOr<int> OptionalBool(const GgufFile& file, absl::string_view key) {
  if (file.Find(key) == nullptr) return -1;
  TESSERA_ASSIGN_OR_RETURN(const bool value, file.GetBool(key));
  return value ? 1 : 0;
}

absl::Status RequireKey(const GgufFile& file, absl::string_view key) {
  if (file.Find(key) != nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("missing key ", key));
}

absl::StatusOr<std::string> OptionalString(const GgufFile& file,
                                           absl::string_view key) {
  if (file.Find(key) == nullptr) return std::string();
  return file.GetString(key);
}

absl::Status ReadTypes(const GgufFile& file, VocabSpec* spec) {
  constexpr absl::string_view kKey = "tokenizer.ggml.token_type";
  if (file.Find(kKey) == nullptr) return absl::OkStatus();
  TESSERA_ASSIGN_OR_RETURN(const std::vector<int64_t> types,
                           file.GetIntArray(kKey));
  spec->types.reserve(types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] < 0 || types[i] > static_cast<int64_t>(TokenType::kByte)) {
      return absl::InvalidArgumentError(
          absl::StrCat(kKey, "[", i, "] = ", types[i], " is not a type"));
    }
    spec->types.push_back(static_cast<TokenType>(types[i]));
  }
  return absl::OkStatus();
}

absl::Status ReadIds(const GgufFile& file, VocabSpec* spec) {
  const size_t n = spec->tokens.size();
  TESSERA_ASSIGN_OR_RETURN(spec->bos_id,
                           OptionalId(file, "tokenizer.ggml.bos_token_id", n));
  TESSERA_ASSIGN_OR_RETURN(spec->eos_id,
                           OptionalId(file, "tokenizer.ggml.eos_token_id", n));
  TESSERA_ASSIGN_OR_RETURN(
      spec->unk_id, OptionalId(file, "tokenizer.ggml.unknown_token_id", n));
  TESSERA_ASSIGN_OR_RETURN(spec->eot_id,
                           OptionalId(file, "tokenizer.ggml.eot_token_id", n));
  TESSERA_ASSIGN_OR_RETURN(spec->eom_id,
                           OptionalId(file, "tokenizer.ggml.eom_token_id", n));
  TESSERA_ASSIGN_OR_RETURN(spec->add_bos,
                           OptionalBool(file, "tokenizer.ggml.add_bos_token"));
  TESSERA_ASSIGN_OR_RETURN(spec->add_eos,
                           OptionalBool(file, "tokenizer.ggml.add_eos_token"));
  TESSERA_ASSIGN_OR_RETURN(
      spec->add_space_prefix,
      OptionalBool(file, "tokenizer.ggml.add_space_prefix"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VocabSpec> VocabSpecFromGguf(const GgufFile& file) {
  VocabSpec spec;
  TESSERA_RETURN_IF_ERROR(RequireKey(file, "tokenizer.ggml.model"));
  TESSERA_RETURN_IF_ERROR(RequireKey(file, "tokenizer.ggml.tokens"));
  TESSERA_ASSIGN_OR_RETURN(spec.model, file.GetString("tokenizer.ggml.model"));
  TESSERA_ASSIGN_OR_RETURN(spec.tokens,
                           file.GetStringArray("tokenizer.ggml.tokens"));
  if (file.Find("tokenizer.ggml.scores") != nullptr) {
    TESSERA_ASSIGN_OR_RETURN(spec.scores,
                             file.GetFloatArray("tokenizer.ggml.scores"));
  }
  TESSERA_RETURN_IF_ERROR(ReadTypes(file, &spec));
  if (file.Find("tokenizer.ggml.merges") != nullptr) {
    TESSERA_ASSIGN_OR_RETURN(spec.merges,
                             file.GetStringArray("tokenizer.ggml.merges"));
  }
  TESSERA_ASSIGN_OR_RETURN(spec.pre,
                           OptionalString(file, "tokenizer.ggml.pre"));
  TESSERA_RETURN_IF_ERROR(ReadIds(file, &spec));
  TESSERA_ASSIGN_OR_RETURN(spec.model_name,
                           OptionalString(file, "general.name"));
  TESSERA_ASSIGN_OR_RETURN(spec.chat_template,
                           OptionalString(file, "tokenizer.chat_template"));
  return spec;
}

namespace {

absl::Status ValidateSpec(const VocabSpec& spec) {
  if (spec.model != "llama" && spec.model != "gpt2") {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported tokenizer.ggml.model '", spec.model,
                     "' (supported: llama, gpt2)"));
  }
  const size_t n = spec.tokens.size();
  if (n == 0 || n > size_t{1} << 30) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer.ggml.tokens has ", n, " entries"));
  }
  if (!spec.scores.empty() && spec.scores.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer.ggml.scores has ", spec.scores.size(),
                     " entries for ", n, " tokens"));
  }
  if (!spec.types.empty() && spec.types.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer.ggml.token_type has ", spec.types.size(),
                     " entries for ", n, " tokens"));
  }
  if (spec.model == "gpt2" && spec.merges.empty()) {
    return absl::InvalidArgumentError(
        "tokenizer.ggml.merges is required for tokenizer.ggml.model gpt2");
  }
  return absl::OkStatus();
}

// The byte-fallback token of each byte: <0xNN>, else a token made of the
// byte itself, else -1.
std::array<int32_t, 256> FindByteTokens(const std::vector<std::string>& texts) {
  absl::flat_hash_map<absl::string_view, int32_t> by_text;
  for (size_t i = 0; i < texts.size(); ++i) {
    by_text.insert_or_assign(texts[i], static_cast<int32_t>(i));
  }
  std::array<int32_t, 256> byte_tokens;
  for (int b = 0; b < 256; ++b) {
    auto it = by_text.find(absl::StrFormat("<0x%02X>", b));
    if (it == by_text.end()) {
      it = by_text.find(std::string(1, static_cast<char>(b)));
    }
    byte_tokens[b] = it == by_text.end() ? -1 : it->second;
  }
  return byte_tokens;
}

// Falls back to `fallback` when `id` is absent and `fallback` is in range.
int32_t IdOrDefault(int32_t id, int32_t fallback, size_t vocab_size) {
  if (id >= 0 && static_cast<size_t>(id) < vocab_size) return id;
  return fallback >= 0 && static_cast<size_t>(fallback) < vocab_size ? fallback
                                                                     : -1;
}

}  // namespace

Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(
    const GgufFile& file) {
  absl::StatusOr<VocabSpec> spec = VocabSpecFromGguf(file);
  if (!spec.ok()) {
    return Annotate(spec.status(), absl::StrCat("tokenizer of ", file.name()));
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      FromSpec(*std::move(spec));
  if (!tokenizer.ok()) {
    return Annotate(tokenizer.status(),
                    absl::StrCat("tokenizer of ", file.name()));
  }
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromSpec(VocabSpec spec) {
  TESSERA_RETURN_IF_ERROR(ValidateSpec(spec));
  auto tokenizer = std::unique_ptr<Tokenizer>(new Tokenizer());
  TESSERA_RETURN_IF_ERROR(tokenizer->Init(std::move(spec)));
  return tokenizer;
}

absl::Status Tokenizer::Init(VocabSpec spec) {
  const bool spm = spec.model == "llama";
  const size_t n = spec.tokens.size();
  if (spec.scores.empty()) spec.scores.assign(n, 0.0f);
  if (spec.types.empty()) spec.types.assign(n, TokenType::kNormal);
  model_ = spec.model;
  chat_template_ = spec.chat_template;
  bos_id_ = IdOrDefault(spec.bos_id, spm ? 1 : -1, n);
  eos_id_ = IdOrDefault(spec.eos_id, spm ? 2 : -1, n);
  spec.unk_id = IdOrDefault(spec.unk_id, spm ? 0 : -1, n);

  PreTokenizerConfig pre;
  if (!spm) {
    TESSERA_ASSIGN_OR_RETURN(pre, PreTokenizerConfigFromName(spec.pre));
  }
  add_bos_ = spec.add_bos >= 0 ? spec.add_bos == 1 : (spm || pre.add_bos);
  add_eos_ = spec.add_eos == 1;
  add_space_prefix_ =
      spec.add_space_prefix >= 0 ? spec.add_space_prefix == 1 : spm;

  MarkEndOfGeneration(&spec);
  InitTokens(&spec);
  std::vector<bool> mergeable(n);
  std::vector<std::string> texts(n);
  for (size_t i = 0; i < n; ++i) {
    mergeable[i] = IsMergeable(tokens_[i].type);
    texts[i] = tokens_[i].text;
  }
  if (!spm) {
    TESSERA_ASSIGN_OR_RETURN(
        bpe_,
        BpeEncoder::Create(texts, mergeable, spec.merges, pre, spec.unk_id));
    return absl::OkStatus();
  }
  spm_ = std::make_unique<SpmEncoder>(texts, spec.scores, mergeable,
                                      FindByteTokens(texts), spec.unk_id);
  return absl::OkStatus();
}

void Tokenizer::MarkEndOfGeneration(VocabSpec* spec) {
  for (const int32_t id : {eos_id_, spec->eot_id, spec->eom_id}) {
    if (id >= 0 && static_cast<size_t>(id) < spec->tokens.size()) {
      end_of_generation_.insert(id);
    }
  }
  // Turn-ending tokens are control tokens even where a converter marked
  // them user-defined: they are then only parsed with parse_special and
  // never printed.
  for (size_t i = 0; i < spec->tokens.size(); ++i) {
    for (const absl::string_view text : kEndOfGenerationTexts) {
      if (spec->tokens[i] == text) {
        end_of_generation_.insert(static_cast<int32_t>(i));
        spec->types[i] = TokenType::kControl;
      }
    }
  }
}

void Tokenizer::InitTokens(VocabSpec* spec) {
  const bool spm = spec->model == "llama";
  const size_t n = spec->tokens.size();
  tokens_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    Token& token = tokens_[i];
    token.text = std::move(spec->tokens[i]);
    token.type = spec->types[i];
    token.piece = PieceOf(spm, token.text, token.type);
    if (IsSpecialType(token.type) && !token.text.empty()) {
      special_ids_.push_back(static_cast<int32_t>(i));
    }
  }
  // Special tokens are matched before the model runs, the longest first
  // (ties by id, for determinism).
  std::sort(special_ids_.begin(), special_ids_.end(),
            [this](int32_t a, int32_t b) {
              const size_t la = tokens_[a].text.size();
              const size_t lb = tokens_[b].text.size();
              return la != lb ? la > lb : a < b;
            });
  // Phi-3 swallows whitespace after its special tokens (the rstrip flag of
  // its added tokens), except after <unk>, <s> and <|endoftext|>.
  const std::string name = absl::AsciiStrToLower(spec->model_name);
  if (absl::StrContains(name, "phi3") || absl::StrContains(name, "phi-3")) {
    for (const int32_t id : special_ids_) {
      const std::string& text = tokens_[id].text;
      tokens_[id].rstrip =
          text != "<unk>" && text != "<s>" && text != "<|endoftext|>";
    }
  }
}

std::vector<Tokenizer::Fragment> Tokenizer::Partition(
    absl::string_view text, bool parse_special) const {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (const int32_t id : special_ids_) {
    const Token& special = tokens_[id];
    if (!parse_special && special.type != TokenType::kUserDefined) continue;
    if (text.find(special.text) == absl::string_view::npos) continue;
    next.clear();
    for (const Fragment& fragment : fragments) {
      if (fragment.id >= 0) {
        next.push_back(fragment);
        continue;
      }
      size_t offset = fragment.offset;
      size_t length = fragment.length;
      while (length > 0) {
        const size_t found = text.substr(offset, length).find(special.text);
        if (found == absl::string_view::npos) {
          next.push_back({-1, offset, length});
          break;
        }
        if (found > 0) next.push_back({-1, offset, found});
        next.push_back({id, 0, 0});
        size_t right = offset + found + special.text.size();
        const size_t end = offset + length;
        while (special.rstrip && right < end && IsAsciiSpace(text[right])) {
          ++right;
        }
        offset = right;
        length = end - right;
      }
    }
    fragments.swap(next);
  }
  return fragments;
}

void Tokenizer::EncodeText(absl::string_view text, bool after_special,
                           std::vector<int32_t>* out) const {
  if (bpe_ != nullptr) {
    bpe_->Encode(text, out);
    return;
  }
  std::string escaped;
  escaped.reserve(text.size() + text.size() / 4 + 3);
  if (add_space_prefix_ && after_special)
    escaped.append(kSpmSpace.data(), kSpmSpace.size());
  for (const char c : text) {
    if (c == ' ') {
      escaped.append(kSpmSpace.data(), kSpmSpace.size());
    } else {
      escaped.push_back(c);
    }
  }
  spm_->Encode(escaped, out);
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text, bool add_bos,
                                       bool add_eos, bool parse_special) const {
  std::vector<int32_t> out;
  if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  bool after_special = true;  // the start of the text counts as one
  for (const Fragment& fragment : Partition(text, parse_special)) {
    if (fragment.id >= 0) {
      out.push_back(fragment.id);
      after_special = true;
    } else {
      EncodeText(text.substr(fragment.offset, fragment.length), after_special,
                 &out);
      after_special = false;
    }
  }
  if (add_eos && eos_id_ >= 0) out.push_back(eos_id_);
  return out;
}

const std::string& Tokenizer::TokenToPiece(int32_t id) const {
  static const std::string* const kEmpty = new std::string();
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return *kEmpty;
  return tokens_[id].piece;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string* const kEmpty = new std::string();
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return *kEmpty;
  return tokens_[id].text;
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) {
    return TokenType::kUndefined;
  }
  return tokens_[id].type;
}

std::string Tokenizer::Decode(absl::Span<const int32_t> ids) const {
  std::string text;
  for (const int32_t id : ids) text += TokenToPiece(id);
  return text;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return end_of_generation_.contains(id);
}

std::string IncrementalDecoder::Push(int32_t id) {
  pending_ += tokenizer_.TokenToPiece(id);
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    const Utf8ScanResult r = ScanUtf8(absl::string_view(pending_).substr(pos));
    if (r.kind == Utf8Scan::kIncomplete) break;  // wait for more bytes
    if (r.kind == Utf8Scan::kComplete) {
      out.append(pending_, pos, r.length);
    } else {
      out.append(kReplacementChar.data(), kReplacementChar.size());
    }
    pos += r.length;
  }
  pending_.erase(0, pos);
  return out;
}

std::string IncrementalDecoder::Flush() {
  std::string out = SanitizeUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace tessera::model
