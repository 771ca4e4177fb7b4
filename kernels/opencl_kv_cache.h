// OpenClKvCache: the per-session KV caches of an OpenCL shard, in device
// memory, within a byte budget shared by all sessions.
//
// Each session owns, per layer of the shard, a K and a V buffer of
// [capacity][kv_dim] floats. Capacity grows geometrically (the cached
// prefix is copied on the device) up to the context length, or exactly to
// what is needed when doubling would exceed the budget. A session's length
// (tokens cached) is set by the caller after a successful forward pass.
//
// Thread-safety: not thread-safe.
#ifndef TESSERA_KERNELS_OPENCL_KV_CACHE_H_
#define TESSERA_KERNELS_OPENCL_KV_CACHE_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "kernels/opencl_context.h"
#include "kernels/opencl_handles.h"

namespace tessera::kernels {

class OpenClKvCache {
 public:
  // `context` must outlive the cache. max_tokens: per-session context.
  OpenClKvCache(OpenClContext* context, int64_t n_layers, int64_t kv_dim,
                int64_t max_tokens, int64_t budget_bytes);

  int64_t bytes_per_token() const { return 2 * n_layers_ * kv_dim_ * 4; }
  int64_t reserved_bytes() const { return reserved_bytes_; }
  int64_t budget_bytes() const { return budget_bytes_; }
  int64_t max_tokens() const { return max_tokens_; }

  // Whether `session` has buffers (was reserved and not released).
  bool Contains(uint64_t session) const { return sessions_.contains(session); }

  // Tokens cached for `session` (0 when unknown).
  int64_t Length(uint64_t session) const;

  // Makes every session in `needs` able to hold its token count, creating
  // sessions as needed. Validates all needs first: OutOfRange when a count
  // exceeds the context, ResourceExhausted when the budget (or the largest
  // device buffer) cannot hold them; nothing changes then. Lengths are not
  // changed.
  absl::Status Reserve(const std::vector<std::pair<uint64_t, int64_t>>& needs);

  // REQUIRES: Reserve covered `length` tokens for `session`.
  void SetLength(uint64_t session, int64_t length);

  // Frees the session's buffers. NotFound for an unknown session.
  absl::Status Release(uint64_t session);

  // Cache buffers of a reserved session, layer index within the shard.
  cl_mem k(uint64_t session, int64_t layer) const;
  cl_mem v(uint64_t session, int64_t layer) const;

 private:
  struct Session {
    int64_t length = 0;
    int64_t capacity = 0;
    std::vector<ClMem> k, v;
  };

  // Most tokens one layer's K (or V) buffer can hold.
  int64_t BufferTokens() const;
  // Capacity to grow `current` to for `needed` tokens given `free_bytes`.
  int64_t GrowTo(int64_t current, int64_t needed, int64_t free_bytes) const;
  absl::Status Grow(Session& session, int64_t capacity);

  OpenClContext* context_;
  int64_t n_layers_;
  int64_t kv_dim_;
  int64_t max_tokens_;
  int64_t budget_bytes_;
  int64_t reserved_bytes_ = 0;
  absl::flat_hash_map<uint64_t, Session> sessions_;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_KV_CACHE_H_
