// KvCache: the per-session key/value caches of a CPU shard, allocated on
// demand in pages of kPageTokens tokens and charged against a byte budget.
//
// Page layout (one allocation per page, elements F32 or F16):
//   [layer][0 = keys, 1 = values][token within page][kv_dim]
// so token t of layer l starts at
//   pages[t / kPageTokens] + ((2*l + kind) * kPageTokens + t % kPageTokens)
//                            * kv_dim * element_bytes.
// Pages are never moved: growing a session never copies its cache.
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
#include "model/ggml_types.h"

namespace tessera::kernels {

// Read access to one layer of one session's cache.
struct KvLayerView {
  const std::unique_ptr<uint8_t[]>* pages = nullptr;
  int64_t layer = 0;
  int64_t kv_dim = 0;
  bool f16 = false;

  const uint8_t* Row(int64_t t, int kind) const;
  const uint8_t* Key(int64_t t) const { return Row(t, 0); }
  const uint8_t* Value(int64_t t) const { return Row(t, 1); }
};

class KvCache {
 public:
  static constexpr int64_t kPageTokens = 64;

  // `type` is F32 or F16. REQUIRES: layers >= 0, kv_dim >= 1.
  KvCache(int64_t layers, int64_t kv_dim, model::GgmlType type,
          int64_t budget_bytes);

  int64_t bytes_per_token() const { return 2 * layers_ * kv_dim_ * element_bytes_; }
  int64_t page_bytes() const { return kPageTokens * bytes_per_token(); }
  int64_t reserved_bytes() const { return reserved_bytes_; }
  int64_t budget_bytes() const { return budget_bytes_; }
  bool f16() const { return element_bytes_ == 2; }

  // Makes each listed session (created if new) able to hold the given
  // number of tokens. All or nothing: ResourceExhausted, with nothing
  // changed, when the budget cannot hold the new pages.
  absl::Status Reserve(absl::Span<const std::pair<uint64_t, int64_t>> needs);

  bool Contains(uint64_t session) const { return sessions_.count(session) > 0; }
  // Tokens cached (0 for an unknown session).
  int64_t Length(uint64_t session) const;
  // REQUIRES: the session exists and holds `length` tokens.
  void SetLength(uint64_t session, int64_t length);
  // NotFound for an unknown session.
  absl::Status Release(uint64_t session);

  // REQUIRES: the session exists and token t is reserved.
  uint8_t* MutableRow(uint64_t session, int64_t layer, int64_t t, int kind);
  KvLayerView View(uint64_t session, int64_t layer) const;

 private:
  struct Session {
    int64_t length = 0;
    std::vector<std::unique_ptr<uint8_t[]>> pages;
  };

  const int64_t layers_;
  const int64_t kv_dim_;
  const int64_t element_bytes_;
  const int64_t budget_bytes_;
  int64_t reserved_bytes_ = 0;
  std::unordered_map<uint64_t, Session> sessions_;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_KV_CACHE_H_
