#include "kernels/opencl_kv_cache.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::kernels {
namespace {

constexpr int64_t kMinCapacityTokens = 32;

}  // namespace

OpenClKvCache::OpenClKvCache(OpenClContext* context, int64_t n_layers,
                             int64_t kv_dim, int64_t max_tokens,
                             int64_t budget_bytes)
    : context_(context),
      n_layers_(n_layers),
      kv_dim_(kv_dim),
      max_tokens_(max_tokens),
      budget_bytes_(budget_bytes) {}

int64_t OpenClKvCache::Length(uint64_t session) const {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? 0 : it->second.length;
}

int64_t OpenClKvCache::BufferTokens() const {
  return kv_dim_ > 0 ? context_->max_buffer_bytes() / (kv_dim_ * 4)
                     : max_tokens_;
}

int64_t OpenClKvCache::GrowTo(int64_t current, int64_t needed,
                              int64_t free_bytes) const {
  if (needed <= current) return current;
  const int64_t limit = std::max(needed, std::min(max_tokens_, BufferTokens()));
  int64_t wanted = std::max({needed, 2 * current, kMinCapacityTokens});
  wanted = std::min(wanted, limit);
  if ((wanted - current) * bytes_per_token() > free_bytes) wanted = needed;
  return wanted;
}

absl::Status OpenClKvCache::Reserve(
    const std::vector<std::pair<uint64_t, int64_t>>& needs) {
  const int64_t per_token = bytes_per_token();
  const int64_t buffer_tokens = BufferTokens();
  int64_t free_bytes = budget_bytes_ - reserved_bytes_;
  std::vector<int64_t> capacities;
  for (const auto& [id, tokens] : needs) {
    if (tokens > max_tokens_) {
      return absl::OutOfRangeError(
          absl::StrCat("session ", id, " needs ", tokens,
                       " tokens; the context is ", max_tokens_));
    }
    auto it = sessions_.find(id);
    const int64_t current = it == sessions_.end() ? 0 : it->second.capacity;
    const int64_t capacity = GrowTo(current, tokens, free_bytes);
    if (capacity > buffer_tokens) {
      return absl::ResourceExhaustedError(
          absl::StrCat("session ", id, " needs ", tokens,
                       " tokens; one layer's K cache "
                       "would exceed the device's largest buffer (",
                       context_->max_buffer_bytes(), " bytes)"));
    }
    if ((capacity - current) * per_token > free_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "KV cache budget exhausted: session ", id, " needs ", tokens,
          " tokens (", tokens * per_token, " bytes); ", reserved_bytes_, " of ",
          budget_bytes_, " bytes are reserved"));
    }
    free_bytes -= (capacity - current) * per_token;
    capacities.push_back(capacity);
  }
  for (size_t i = 0; i < needs.size(); ++i) {
    Session& session = sessions_[needs[i].first];
    if (capacities[i] > session.capacity) {
      TESSERA_RETURN_IF_ERROR(Grow(session, capacities[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status OpenClKvCache::Grow(Session& session, int64_t capacity) {
  if (n_layers_ == 0 || kv_dim_ == 0) {
    session.capacity = capacity;
    return absl::OkStatus();
  }
  const int64_t bytes = capacity * kv_dim_ * 4;
  const int64_t kept = session.length * kv_dim_ * 4;
  std::vector<ClMem> k(n_layers_), v(n_layers_);
  for (int64_t layer = 0; layer < n_layers_; ++layer) {
    TESSERA_ASSIGN_OR_RETURN(k[layer], context_->CreateBuffer(bytes));
    TESSERA_ASSIGN_OR_RETURN(v[layer], context_->CreateBuffer(bytes));
    if (kept > 0) {
      TESSERA_RETURN_IF_ERROR(
          context_->Copy(session.k[layer].get(), 0, k[layer].get(), 0, kept));
      TESSERA_RETURN_IF_ERROR(
          context_->Copy(session.v[layer].get(), 0, v[layer].get(), 0, kept));
    }
  }
  reserved_bytes_ += (capacity - session.capacity) * bytes_per_token();
  session.k = std::move(k);
  session.v = std::move(v);
  session.capacity = capacity;
  return absl::OkStatus();
}

void OpenClKvCache::SetLength(uint64_t session, int64_t length) {
  sessions_[session].length = length;
}

absl::Status OpenClKvCache::Release(uint64_t session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown session ", session));
  }
  reserved_bytes_ -= it->second.capacity * bytes_per_token();
  sessions_.erase(it);
  return absl::OkStatus();
}

cl_mem OpenClKvCache::k(uint64_t session, int64_t layer) const {
  return sessions_.at(session).k[layer].get();
}

cl_mem OpenClKvCache::v(uint64_t session, int64_t layer) const {
  return sessions_.at(session).v[layer].get();
}

}  // namespace tessera::kernels
