// KvCache: the per-session key/value caches of a CPU shard, allocated on
// demand in pages of kPageTokens tokens and charged against a byte budget.
//
// Page layout (one allocation per page, elements F32 or F16), per layer l
// two blocks of kPageTokens x kv_dim elements at element offset
// (2*l + kind) * kPageTokens * kv_dim:
//   keys   (kind 0): dimension-major, [kv_dim][kPageTokens], so the scores
//                    of a query against a page's 64 keys are plain FMAs;
//   values (kind 1): token-major, [kPageTokens][kv_dim].
// Pages are never moved: growing a session never copies its cache. The
// pages of a released session are kept and handed to the next sessions
// that grow, so serving many sessions in turn costs no page faults after
// the first; the memory held (reserved + cached) never exceeds the most
// ever reserved at once, hence the budget. A recycled page keeps its old
// contents: attention never uses a position before it has been stored.
//
// Pages of 2 MiB or more are in huge pages where the system has them (see
// common/large_pages.h): attention reads every cached page of a layer for
// each new token, and on a virtual machine a TLB miss per 4 KiB of that is a
// large part of attention's time.
//
// Thread-safety: not thread-safe; the backend serialises calls. Different
// threads may write different tokens' rows concurrently.
#ifndef TESSERA_KERNELS_CPU_KV_CACHE_H_
#define TESSERA_KERNELS_CPU_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/large_pages.h"
#include "model/ggml_types.h"

namespace tessera::kernels {

// Read access to one layer of one session's cache.
struct KvLayerView {
  const LargePageBuffer* pages = nullptr;
  int64_t layer = 0;
  int64_t kv_dim = 0;
  bool f16 = false;

  // The page's key block: element [d * kPageTokens + i] is dimension d of
  // the page's token i.
  const uint8_t* KeyBlock(int64_t page) const { return Block(page, 0); }
  // The page's value block: element [i * kv_dim + d].
  const uint8_t* ValueBlock(int64_t page) const { return Block(page, 1); }
  const uint8_t* Block(int64_t page, int kind) const;
  // Bytes of one cached element, and of one token's keys (or values).
  int64_t element_bytes() const { return f16 ? 2 : 4; }
  int64_t token_bytes() const { return kv_dim * element_bytes(); }
};

class KvCache {
 public:
  static constexpr int64_t kPageTokens = 64;

  // `type` is F32 or F16. REQUIRES: layers >= 0, kv_dim >= 1.
  KvCache(int64_t layers, int64_t kv_dim, model::GgmlType type,
          int64_t budget_bytes);

  int64_t bytes_per_token() const {
    return 2 * layers_ * kv_dim_ * element_bytes_;
  }
  int64_t page_bytes() const { return kPageTokens * bytes_per_token(); }
  int64_t reserved_bytes() const { return reserved_bytes_; }
  // Bytes of released pages kept for reuse (not counted as reserved).
  int64_t cached_bytes() const {
    return static_cast<int64_t>(free_pages_.size()) * page_bytes();
  }
  int64_t budget_bytes() const { return budget_bytes_; }
  bool f16() const { return element_bytes_ == 2; }

  // Makes each listed session (created if new) able to hold the given
  // number of tokens, with cached pages first, then new ones. All or nothing:
  // ResourceExhausted, with nothing changed, when the budget cannot hold the
  // new pages or the memory cannot be had.
  absl::Status Reserve(absl::Span<const std::pair<uint64_t, int64_t>> needs);

  bool Contains(uint64_t session) const { return sessions_.count(session) > 0; }
  // Tokens cached (0 for an unknown session).
  int64_t Length(uint64_t session) const;
  // REQUIRES: the session exists and holds `length` tokens.
  void SetLength(uint64_t session, int64_t length);
  // Ends a session; its pages become cached. NotFound for an unknown
  // session.
  absl::Status Release(uint64_t session);

  // Writes token t's keys and values (kv_dim floats each, converted to the
  // cache's type). REQUIRES: the session exists and token t is reserved.
  // Different tokens may be stored concurrently.
  void Store(uint64_t session, int64_t layer, int64_t t, const float* keys,
             const float* values) {
    StoreSlice(session, layer, t, 0, kv_dim_, keys, values);
  }
  // Store of dimensions [offset, offset + count) only; `keys` and `values`
  // point at dimension `offset`. Different slices of one token may be
  // stored concurrently. REQUIRES: as Store, and the slice lies in kv_dim.
  void StoreSlice(uint64_t session, int64_t layer, int64_t t, int64_t offset,
                  int64_t count, const float* keys, const float* values);
  KvLayerView View(uint64_t session, int64_t layer) const;

 private:
  struct Session {
    int64_t length = 0;
    std::vector<LargePageBuffer> pages;
  };

  const int64_t layers_;
  const int64_t kv_dim_;
  const int64_t element_bytes_;
  const int64_t budget_bytes_;
  int64_t reserved_bytes_ = 0;
  std::unordered_map<uint64_t, Session> sessions_;
  std::vector<LargePageBuffer> free_pages_;  // released, kept for reuse
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_KV_CACHE_H_
