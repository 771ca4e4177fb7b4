// Byte-level BPE (GGUF `tokenizer.ggml.model` = "gpt2"): the pre-tokenizer
// cuts text into words, each word's bytes are mapped to printable code
// points (GPT-2's byte<->unicode table, see unicode.h), and within a word
// the adjacent pair with the lowest merge rank (its index in
// `tokenizer.ggml.merges`, "left right") is merged until none applies.
//
// BpeEncoder is immutable after Create and safe for concurrent use.
#ifndef TESSERA_MODEL_BPE_TOKENIZER_H_
#define TESSERA_MODEL_BPE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/pretokenizer.h"

namespace tessera::model {

class BpeEncoder {
 public:
  // `tokens[i]` is the (byte-level encoded) text of token i; only tokens
  // with `mergeable[i]` can be produced from text (when a text occurs twice,
  // the later token wins). A merge that names a pair twice keeps its first
  // rank. Characters that form no token become `unk_id` (dropped if -1).
  // InvalidArgument for a merge without a space separating two non-empty
  // parts; errors of PreTokenizer::Create are passed on.
  // REQUIRES: tokens.size() == mergeable.size().
  static absl::StatusOr<std::unique_ptr<BpeEncoder>> Create(
      const std::vector<std::string>& tokens,
      const std::vector<bool>& mergeable,
      const std::vector<std::string>& merges, const PreTokenizerConfig& pre,
      int32_t unk_id);

  // Appends the tokens of raw (not byte-encoded) `text` to `out`. Texts over
  // 1 GiB are encoded in independent chunks cut at character boundaries.
  void Encode(absl::string_view text, std::vector<int32_t>* out) const;

  struct Symbol {
    int32_t prev;
    int32_t next;
    uint32_t start;
    uint32_t size;  // 0: merged into its left neighbour
  };
  struct Bigram {
    int32_t rank;
    int32_t left;
    int32_t right;
    uint32_t size;  // bytes of left + right when queued; stale if changed
  };

 private:
  // Buffers reused across the words of one Encode call.
  struct Workspace {
    std::string word;     // the byte-level encoded word
    std::string scratch;  // merge-rank keys
    std::vector<Symbol> symbols;
    std::vector<Bigram> heap;
  };

  BpeEncoder() = default;
  void EncodeWord(Workspace* workspace, std::vector<int32_t>* out) const;
  int32_t Find(absl::string_view text) const;
  int32_t Rank(absl::string_view left, absl::string_view right,
               std::string* scratch) const;

  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  bool ignore_merges_ = false;
  int32_t unk_id_ = -1;
  absl::flat_hash_map<std::string, int32_t> token_to_id_;
  // Key: left + '\xFF' + right (0xFF never occurs in UTF-8).
  absl::flat_hash_map<std::string, int32_t> merge_rank_;
};

}  // namespace tessera::model

#endif  // TESSERA_MODEL_BPE_TOKENIZER_H_
