#include "model/spm_tokenizer.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "model/unicode.h"

namespace tessera::model {
namespace {

constexpr size_t kMaxChunkBytes = size_t{1} << 30;

constexpr absl::string_view kSpace = "\xE2\x96\x81";  // U+2581 "▁"

// Highest score first; equal scores: leftmost first.
// Initial symbols are whole UTF-8 characters; each byte that is not part of
// a valid character is a symbol of its own (it can only become a byte
// token), so an invalid byte never swallows the "▁" after it.
size_t SymbolLength(absl::string_view text, size_t pos) {
  const Utf8ScanResult scan = ScanUtf8(text.substr(pos));
  return scan.kind == Utf8Scan::kComplete ? scan.length : 1;
}

struct BigramOrder {
  using Bigram = SpmEncoder::Bigram;
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

SpmEncoder::SpmEncoder(const std::vector<std::string>& pieces,
                       const std::vector<float>& scores,
                       const std::vector<bool>& mergeable,
                       const std::array<int32_t, 256>& byte_tokens,
                       int32_t unk_id)
    : scores_(scores), byte_tokens_(byte_tokens), unk_id_(unk_id) {
  piece_to_id_.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (!mergeable[i]) continue;
    piece_to_id_.insert_or_assign(pieces[i], static_cast<int32_t>(i));
    // A "▁" after some other character inside a piece would let merges
    // cross the start of a run of spaces.
    absl::string_view rest = pieces[i];
    while (absl::ConsumePrefix(&rest, kSpace)) {
    }
    if (absl::StrContains(rest, kSpace)) split_at_spaces_ = false;
  }
}

int32_t SpmEncoder::Find(absl::string_view piece) const {
  const auto it = piece_to_id_.find(piece);
  return it == piece_to_id_.end() ? -1 : it->second;
}

void SpmEncoder::Encode(absl::string_view text,
                        std::vector<int32_t>* out) const {
  Workspace workspace;
  if (!split_at_spaces_) {
    EncodeSegment(text, &workspace, out);
    return;
  }
  // Cut before every run of "▁" symbols (see split_at_spaces_). Symbols are
  // cut exactly as EncodeChunk cuts them, so segment ends are symbol ends.
  size_t segment_start = 0;
  bool previous_is_space = false;
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = SymbolLength(text, pos);
    const bool is_space = text.substr(pos, len) == kSpace;
    if (is_space && !previous_is_space && pos > segment_start) {
      EncodeSegment(text.substr(segment_start, pos - segment_start), &workspace,
                    out);
      segment_start = pos;
    }
    previous_is_space = is_space;
    pos += len;
  }
  EncodeSegment(text.substr(segment_start), &workspace, out);
}

void SpmEncoder::EncodeSegment(absl::string_view text, Workspace* workspace,
                               std::vector<int32_t>* out) const {
  while (!text.empty()) {
    const size_t end = Utf8CutPoint(text, kMaxChunkBytes);
    EncodeChunk(text.substr(0, end), workspace, out);
    text.remove_prefix(end);
  }
}

void SpmEncoder::EncodeChunk(absl::string_view text, Workspace* workspace,
                             std::vector<int32_t>* out) const {
  std::vector<Symbol>& symbols = workspace->symbols;
  symbols.clear();
  for (size_t offset = 0; offset < text.size();) {
    const size_t len = SymbolLength(text, offset);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + len == text.size() ? -1 : index + 1,
                       static_cast<uint32_t>(offset),
                       static_cast<uint32_t>(len)});
    offset += len;
  }

  std::vector<Bigram>& heap = workspace->heap;
  heap.clear();
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = symbols[left].size + symbols[right].size;
    const int32_t id = Find(text.substr(symbols[left].start, size));
    if (id < 0) return;
    heap.push_back({scores_[id], left, right, size});
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
      continue;  // one side was merged into something else meanwhile
    }
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }
  EmitSymbols(text, symbols, out);
}

void SpmEncoder::EmitSymbols(absl::string_view text,
                             const std::vector<Symbol>& symbols,
                             std::vector<int32_t>* out) const {
  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const absl::string_view piece =
        text.substr(symbols[i].start, symbols[i].size);
    const int32_t id = Find(piece);
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    // Only single characters can be unknown: merges always form pieces.
    for (const char c : piece) {
      const int32_t byte_id = byte_tokens_[static_cast<uint8_t>(c)];
      if (byte_id >= 0) {
        out->push_back(byte_id);
      } else if (unk_id_ >= 0) {
        out->push_back(unk_id_);
      }
    }
  }
}

}  // namespace tessera::model
