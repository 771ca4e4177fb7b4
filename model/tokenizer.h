// Tokenizer: text <-> token ids for the vocabularies stored in GGUF files.
//
// Two models, chosen by `tokenizer.ggml.model`:
//   "llama": SentencePiece-style BPE over scored pieces with byte fallback
//            (<0xNN> tokens); spaces are written "▁" (U+2581) and, with
//            `tokenizer.ggml.add_space_prefix` (default true), a space is put
//            before the text and after every special token.
//   "gpt2":  byte-level BPE with `tokenizer.ggml.merges`, after the
//            pre-tokenizer named by `tokenizer.ggml.pre` (pretokenizer.h).
// Token types (`tokenizer.ggml.token_type`): 1 normal, 2 unknown, 3 control,
// 4 user-defined, 5 unused, 6 byte. User-defined tokens are always matched
// in the text before the model runs; control and unknown tokens only when
// the caller asks for special-token parsing. Longer special tokens are
// matched first. Known end-of-turn tokens (<|im_end|>, <|eot_id|>, ...) are
// treated as control tokens whatever their stored type; Phi-3 special tokens
// swallow the whitespace after them. These rules, the byte fallback and the
// merge order follow the reference GGUF engine (llama.cpp), so for valid
// UTF-8 text the ids are identical to its ids. Deliberate differences:
// merges never build control, unknown or byte tokens out of plain text, and
// invalid UTF-8 is kept byte for byte (never replaced by U+FFFD).
//
// Decoding concatenates pieces: "▁" becomes a space, byte tokens their byte,
// byte-level BPE text its bytes; control, unknown and unused tokens decode
// to "" (token_text() gives their raw text). The space prefix added by
// Encode is not removed: for "llama" vocabularies Decode(Encode(x)) is
// " " + x (x non-empty, without "▁" or special-token text), for "gpt2" x.
//
// Tokenizer is immutable after creation and safe for concurrent use.
// IncrementalDecoder is a cheap per-stream object, not thread-safe.
#ifndef TESSERA_MODEL_TOKENIZER_H_
#define TESSERA_MODEL_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/gguf.h"

namespace tessera::model {

class SpmEncoder;
class BpeEncoder;

// Values of `tokenizer.ggml.token_type`.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Everything a tokenizer is built from: the `tokenizer.*` metadata in plain
// form. FromGguf fills one; tests may build one directly.
struct VocabSpec {
  std::string model;                // "llama" or "gpt2"
  std::string pre;                  // tokenizer.ggml.pre, "" if absent
  std::vector<std::string> tokens;  // required, non-empty
  std::vector<float> scores;        // empty: all 0
  std::vector<TokenType> types;     // empty: all normal
  std::vector<std::string> merges;  // "left right"; required for "gpt2"
  // Special ids; -1 = absent, and then the model defaults apply (for
  // "llama": bos 1, eos 2, unk 0; none for "gpt2").
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t eot_id = -1;
  int32_t eom_id = -1;
  // -1: model default (add BOS for "llama" and Llama 3 BPE, not otherwise;
  // never add EOS); 0/1: as stored in add_bos_token / add_eos_token.
  int add_bos = -1;
  int add_eos = -1;
  int add_space_prefix = -1;  // -1: true for "llama", false else
  std::string model_name;     // general.name (per-model quirks)
  std::string chat_template;  // tokenizer.chat_template
};

// Reads the `tokenizer.*` keys (and general.name) of `file` into a spec,
// applying no defaults. InvalidArgument naming the key when
// tokenizer.ggml.model or tokenizer.ggml.tokens is missing, a value has the
// wrong type, or a token type is out of range.
absl::StatusOr<VocabSpec> VocabSpecFromGguf(const GgufFile& file);

class Tokenizer {
 public:
  // Reads the `tokenizer.*` keys of `file`. InvalidArgument (naming the
  // key) when the model is missing or unsupported, tokens are missing or
  // empty, scores/token_type/merges have the wrong type or length, a token
  // type is out of range, or the pre-tokenizer is unknown. Special token
  // ids outside the vocabulary are treated as absent.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromGguf(
      const GgufFile& file);
  // Same from a spec; the same errors (keys named as in GGUF).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromSpec(VocabSpec spec);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text` (any bytes; invalid UTF-8 is encoded through byte
  // tokens). add_bos/add_eos: put BOS first / EOS last (ignored when the
  // vocabulary has none); callers usually pass add_bos_default().
  // parse_special: whether text such as "<|im_start|>" becomes its control
  // token (chat prompts) or is tokenized as plain text. Texts over 1 GiB are
  // encoded in independent chunks.
  std::vector<int32_t> Encode(absl::string_view text, bool add_bos,
                              bool add_eos = false,
                              bool parse_special = false) const;

  // Concatenation of TokenToPiece over `ids` (may end in partial UTF-8).
  std::string Decode(absl::Span<const int32_t> ids) const;
  // The text bytes of one token, possibly partial UTF-8; "" for control,
  // unknown and unused tokens and for ids outside the vocabulary.
  const std::string& TokenToPiece(int32_t id) const;
  // The raw vocabulary entry ("<s>", "▁the", "Ġthe"); "" when out of range.
  const std::string& token_text(int32_t id) const;
  // kUndefined when out of range.
  TokenType token_type(int32_t id) const;

  int32_t bos_id() const { return bos_id_; }  // -1 if none
  int32_t eos_id() const { return eos_id_; }  // -1 if none
  bool add_bos_default() const { return add_bos_; }
  bool add_eos_default() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  // EOS, EOT/EOM and the turn-ending tokens found by text (<|eot_id|>,
  // <|im_end|>, <|end|>, <|endoftext|>, <end_of_turn>, ...).
  bool IsEndOfGeneration(int32_t id) const;
  int64_t vocab_size() const { return static_cast<int64_t>(tokens_.size()); }
  const std::string& chat_template() const { return chat_template_; }
  const std::string& model() const { return model_; }

 private:
  struct Token {
    std::string text;
    std::string piece;  // what Decode emits
    TokenType type = TokenType::kNormal;
    bool rstrip = false;  // swallow whitespace after it when matched
  };
  // A token (id >= 0) or a run [offset, offset + length) of the input text.
  struct Fragment {
    int32_t id;
    size_t offset;
    size_t length;
  };

  Tokenizer() = default;
  absl::Status Init(VocabSpec spec);
  // Fills end_of_generation_; turns end-of-turn tokens into control ones.
  void MarkEndOfGeneration(VocabSpec* spec);
  // Fills tokens_ (moving the texts out of `spec`) and special_ids_.
  void InitTokens(VocabSpec* spec);
  std::vector<Fragment> Partition(absl::string_view text,
                                  bool parse_special) const;
  void EncodeText(absl::string_view text, bool after_special,
                  std::vector<int32_t>* out) const;

  std::string model_;
  std::vector<Token> tokens_;
  std::unique_ptr<SpmEncoder> spm_;
  std::unique_ptr<BpeEncoder> bpe_;
  std::vector<int32_t> special_ids_;  // matchable in text, longest first
  absl::flat_hash_set<int32_t> end_of_generation_;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool add_space_prefix_ = false;
  std::string chat_template_;
};

// Turns a stream of token ids into text without ever emitting part of a
// UTF-8 character: bytes of an incomplete character are held back until the
// next token completes it. Bytes that cannot be part of any character are
// emitted as U+FFFD. REQUIRES: `tokenizer` outlives the decoder.
class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tokenizer)
      : tokenizer_(tokenizer) {}

  // Returns the text completed by `id` (may be "").
  std::string Push(int32_t id);
  // Returns what is held back (an incomplete character becomes U+FFFD) and
  // resets the decoder.
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;  // a valid but incomplete UTF-8 prefix, < 4 bytes
};

}  // namespace tessera::model

#endif  // TESSERA_MODEL_TOKENIZER_H_
