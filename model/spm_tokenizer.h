// SentencePiece-style BPE over scored pieces (GGUF `tokenizer.ggml.model` =
// "llama"): the text is cut into UTF-8 characters (each byte of invalid
// UTF-8 on its own), then the adjacent pair whose concatenation is the
// highest-scoring vocabulary piece is merged repeatedly (ties go to the
// leftmost pair) until no pair forms a piece.
// Characters that are no piece fall back to their byte tokens <0xNN>.
//
// The caller escapes the text first (spaces become U+2581 "▁" and, if the
// vocabulary wants it, a space is prefixed); see Tokenizer.
//
// SpmEncoder is immutable and safe for concurrent use.
#ifndef TESSERA_MODEL_SPM_TOKENIZER_H_
#define TESSERA_MODEL_SPM_TOKENIZER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace tessera::model {

class SpmEncoder {
 public:
  // `pieces[i]` and `scores[i]` describe token i; only tokens with
  // `mergeable[i]` (normal and user-defined ones) can be produced by merging.
  // `byte_tokens[b]` is the token of byte b (-1: none, then `unk_id` is used;
  // with no unk either, the byte is dropped). When a text occurs twice, the
  // later token wins. REQUIRES: the three vectors have the same size.
  SpmEncoder(const std::vector<std::string>& pieces,
             const std::vector<float>& scores,
             const std::vector<bool>& mergeable,
             const std::array<int32_t, 256>& byte_tokens, int32_t unk_id);

  // Appends the tokens of `text` to `out`. Texts over 1 GiB are encoded in
  // independent 1 GiB chunks cut at character boundaries.
  void Encode(absl::string_view text, std::vector<int32_t>* out) const;

  // Whether merges run separately between runs of "▁" (see below).
  bool splits_at_spaces() const { return split_at_spaces_; }

  // A run of text in the merge chain; size 0 marks a symbol merged away.
  struct Symbol {
    int32_t prev;
    int32_t next;
    uint32_t start;
    uint32_t size;
  };
  struct Bigram {
    float score;
    int32_t left;
    int32_t right;
    uint32_t size;  // bytes of left + right when queued; stale if changed
  };

 private:
  // Buffers reused across the segments of one Encode call.
  struct Workspace {
    std::vector<Symbol> symbols;
    std::vector<Bigram> heap;
  };

  void EncodeSegment(absl::string_view text, Workspace* workspace,
                     std::vector<int32_t>* out) const;
  void EncodeChunk(absl::string_view text, Workspace* workspace,
                   std::vector<int32_t>* out) const;
  void EmitSymbols(absl::string_view text, const std::vector<Symbol>& symbols,
                   std::vector<int32_t>* out) const;
  int32_t Find(absl::string_view piece) const;

  absl::flat_hash_map<std::string, int32_t> piece_to_id_;
  std::vector<float> scores_;
  std::array<int32_t, 256> byte_tokens_;
  int32_t unk_id_;
  // True when no piece has a "▁" after another character: then no merge
  // can cross the start of a run of "▁", and each stretch of text from one
  // such start to the next is merged on its own (same result, small heaps).
  bool split_at_spaces_ = true;
};

}  // namespace tessera::model

#endif  // TESSERA_MODEL_SPM_TOKENIZER_H_
