#include "model/bpe_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/unicode.h"

namespace tessera::model {
namespace {

// Lowest rank first; equal ranks: leftmost first.
struct BigramOrder {
  using Bigram = BpeEncoder::Bigram;
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

constexpr char kMergeKeySeparator = '\xFF';
// Keeps byte-level words (2 bytes per input byte at most) within 32 bits.
constexpr size_t kMaxChunkBytes = size_t{1} << 30;

}  // namespace

absl::StatusOr<std::unique_ptr<BpeEncoder>> BpeEncoder::Create(
    const std::vector<std::string>& tokens, const std::vector<bool>& mergeable,
    const std::vector<std::string>& merges, const PreTokenizerConfig& pre,
    int32_t unk_id) {
  auto encoder = std::unique_ptr<BpeEncoder>(new BpeEncoder());
  TESSERA_ASSIGN_OR_RETURN(encoder->pre_tokenizer_,
                           PreTokenizer::Create(pre.type));
  encoder->ignore_merges_ = pre.ignore_merges;
  encoder->unk_id_ = unk_id;
  encoder->token_to_id_.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (mergeable[i]) {
      encoder->token_to_id_.insert_or_assign(tokens[i],
                                             static_cast<int32_t>(i));
    }
  }
  encoder->merge_rank_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& merge = merges[i];
    // Split at the first space after the first byte, like the converters.
    const size_t space =
        merge.size() < 2 ? std::string::npos : merge.find(' ', 1);
    if (space == std::string::npos || space + 1 >= merge.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer.ggml.merges[", i, "] is not 'left right': '", merge, "'"));
    }
    std::string key = merge;
    key[space] = kMergeKeySeparator;
    encoder->merge_rank_.emplace(std::move(key), static_cast<int32_t>(i));
  }
  return encoder;
}

int32_t BpeEncoder::Find(absl::string_view text) const {
  const auto it = token_to_id_.find(text);
  return it == token_to_id_.end() ? -1 : it->second;
}

int32_t BpeEncoder::Rank(absl::string_view left, absl::string_view right,
                         std::string* scratch) const {
  scratch->assign(left.data(), left.size());
  scratch->push_back(kMergeKeySeparator);
  scratch->append(right.data(), right.size());
  const auto it = merge_rank_.find(*scratch);
  return it == merge_rank_.end() ? -1 : it->second;
}

void BpeEncoder::Encode(absl::string_view text,
                        std::vector<int32_t>* out) const {
  Workspace workspace;
  while (!text.empty()) {
    const size_t end = Utf8CutPoint(text, kMaxChunkBytes);
    for (const absl::string_view word :
         pre_tokenizer_->Split(text.substr(0, end))) {
      workspace.word.clear();
      AppendByteLevel(word, &workspace.word);
      EncodeWord(&workspace, out);
    }
    text.remove_prefix(end);
  }
}

void BpeEncoder::EncodeWord(Workspace* workspace,
                            std::vector<int32_t>* out) const {
  const absl::string_view word = workspace->word;
  if (ignore_merges_) {
    const int32_t id = Find(word);
    if (id >= 0) {
      out->push_back(id);
      return;
    }
  }
  // Words come from chunks of at most 1 GiB: 32-bit offsets suffice.
  std::vector<Symbol>& symbols = workspace->symbols;
  symbols.clear();
  for (size_t offset = 0; offset < word.size();) {
    const size_t len = Utf8LeadLength(static_cast<uint8_t>(word[offset]));
    const auto index = static_cast<int32_t>(symbols.size());
    const bool last = offset + len >= word.size();
    symbols.push_back(
        {index - 1, last ? -1 : index + 1, static_cast<uint32_t>(offset),
         static_cast<uint32_t>(last ? word.size() - offset : len)});
    offset += len;
  }
  auto text_of = [&](int32_t i) {
    return word.substr(symbols[i].start, symbols[i].size);
  };

  std::vector<Bigram>& heap = workspace->heap;
  heap.clear();
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t rank =
        Rank(text_of(left), text_of(right), &workspace->scratch);
    if (rank < 0) return;
    heap.push_back(
        {rank, left, right, symbols[left].size + symbols[right].size});
    std::push_heap(heap.begin(), heap.end(), BigramOrder());
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) {
    try_add(i - 1, i);
  }
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), BigramOrder());
    const Bigram bigram = heap.back();
    heap.pop_back();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.size == 0 || right.size == 0 ||
        left.size + right.size != bigram.size) {
      continue;  // outdated: a side has been merged since it was queued
    }
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const absl::string_view piece = text_of(i);
    const int32_t id = Find(piece);
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    // Only an unknown single character gets here (merges form tokens).
    for (size_t pos = 0; pos < piece.size();) {
      const size_t len = Utf8LeadLength(static_cast<uint8_t>(piece[pos]));
      const int32_t char_id = Find(piece.substr(pos, len));
      if (char_id >= 0) {
        out->push_back(char_id);
      } else if (unk_id_ >= 0) {
        out->push_back(unk_id_);
      }
      pos += len;
    }
  }
}

}  // namespace tessera::model
