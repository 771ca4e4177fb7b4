#include "kernels/cpu_kv_cache.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "kernels/simd.h"

namespace tessera::kernels {

const uint8_t* KvLayerView::Block(int64_t page, int kind) const {
  return pages[page].data() +
         (2 * layer + kind) * KvCache::kPageTokens * token_bytes();
}

KvCache::KvCache(int64_t layers, int64_t kv_dim, model::GgmlType type,
                 int64_t budget_bytes)
    : layers_(layers),
      kv_dim_(kv_dim),
      element_bytes_(type == model::GgmlType::kF16 ? 2 : 4),
      budget_bytes_(budget_bytes) {
  CHECK(type == model::GgmlType::kF16 || type == model::GgmlType::kF32);
}

absl::Status KvCache::Reserve(
    absl::Span<const std::pair<uint64_t, int64_t>> needs) {
  int64_t new_pages = 0;
  for (const auto& [id, tokens] : needs) {
    const int64_t pages = (tokens + kPageTokens - 1) / kPageTokens;
    auto it = sessions_.find(id);
    const int64_t have = it == sessions_.end()
                             ? 0
                             : static_cast<int64_t>(it->second.pages.size());
    new_pages += std::max<int64_t>(0, pages - have);
  }
  const int64_t new_bytes = new_pages * page_bytes();
  if (reserved_bytes_ + new_bytes > budget_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KV cache budget exhausted: ", reserved_bytes_, " bytes reserved + ",
        new_bytes, " needed > budget of ", budget_bytes_, " bytes"));
  }
  // Pages released by ended sessions first: they are already resident, so
  // a new session costs no page faults (with huge pages, a fault can stall
  // for milliseconds while the kernel compacts memory). Then fresh pages,
  // all allocated before any session changes, so that a failed allocation
  // changes nothing. Fresh pages of 2 MiB or more are mappings that cost
  // no RSS until written; smaller ones come zeroed from the heap.
  const int64_t recycled =
      std::min<int64_t>(new_pages, static_cast<int64_t>(free_pages_.size()));
  std::vector<LargePageBuffer> incoming;  // handed out from the back
  incoming.reserve(new_pages);
  for (int64_t i = recycled; i < new_pages; ++i) {
    TESSERA_ASSIGN_OR_RETURN(LargePageBuffer page,
                             LargePageBuffer::Allocate(page_bytes()));
    incoming.push_back(std::move(page));
  }
  for (int64_t i = 0; i < recycled; ++i) {
    incoming.push_back(std::move(free_pages_.back()));
    free_pages_.pop_back();
  }
  for (const auto& [id, tokens] : needs) {
    Session& s = sessions_[id];
    const int64_t pages = (tokens + kPageTokens - 1) / kPageTokens;
    while (static_cast<int64_t>(s.pages.size()) < pages) {
      s.pages.push_back(std::move(incoming.back()));
      incoming.pop_back();
    }
  }
  reserved_bytes_ += new_bytes;
  return absl::OkStatus();
}

int64_t KvCache::Length(uint64_t session) const {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? 0 : it->second.length;
}

void KvCache::SetLength(uint64_t session, int64_t length) {
  Session& s = sessions_.at(session);
  CHECK(length <= static_cast<int64_t>(s.pages.size()) * kPageTokens);
  s.length = length;
}

absl::Status KvCache::Release(uint64_t session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown session ", session));
  }
  std::vector<LargePageBuffer>& pages = it->second.pages;
  reserved_bytes_ -= static_cast<int64_t>(pages.size()) * page_bytes();
  for (LargePageBuffer& page : pages) free_pages_.push_back(std::move(page));
  sessions_.erase(it);
  return absl::OkStatus();
}

void KvCache::StoreSlice(uint64_t session, int64_t layer, int64_t t,
                         int64_t offset, int64_t count, const float* keys,
                         const float* values) {
  const KvLayerView view = View(session, layer);
  const int64_t page = t / kPageTokens, i = t % kPageTokens;
  auto* k = const_cast<uint8_t*>(view.KeyBlock(page)) +
            offset * kPageTokens * element_bytes_;
  auto* v = const_cast<uint8_t*>(view.ValueBlock(page)) +
            (i * kv_dim_ + offset) * element_bytes_;
  if (f16()) {
    auto* kh = reinterpret_cast<uint16_t*>(k);
    for (int64_t d = 0; d < count; ++d) {
      kh[d * kPageTokens + i] = simd::FloatToHalf(keys[d]);
    }
    simd::ToHalf(values, reinterpret_cast<uint16_t*>(v), count);
  } else {
    auto* kf = reinterpret_cast<float*>(k);
    for (int64_t d = 0; d < count; ++d) kf[d * kPageTokens + i] = keys[d];
    std::memcpy(v, values, count * sizeof(float));
  }
}

KvLayerView KvCache::View(uint64_t session, int64_t layer) const {
  const Session& s = sessions_.at(session);
  return KvLayerView{s.pages.data(), layer, kv_dim_, element_bytes_ == 2};
}

}  // namespace tessera::kernels
