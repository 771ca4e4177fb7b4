#include "coordinator/kv_admission.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tessera::coordinator {

KvAdmission::KvAdmission(std::vector<StageKv> stages)
    : stages_(std::move(stages)), used_(stages_.size(), 0) {
  for (StageKv& s : stages_) {
    s.page_tokens = std::max<int64_t>(s.page_tokens, 1);
    s.growth = std::max<int64_t>(s.growth, 1);
  }
}

int64_t KvAdmission::SessionBytes(const StageKv& stage, int64_t tokens) {
  const int64_t pages = (tokens + stage.page_tokens - 1) / stage.page_tokens;
  return stage.growth * pages * stage.page_tokens * stage.bytes_per_token;
}

absl::Status KvAdmission::CheckFits(int64_t tokens) const {
  for (const StageKv& s : stages_) {
    if (s.budget_bytes == 0) continue;
    const int64_t need = SessionBytes(s, tokens);
    if (need > s.budget_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "a session of ", tokens, " tokens (prompt + max_new_tokens) needs ",
          need, " bytes of KV cache on worker ", s.worker_name,
          ", whose KV budget is ", s.budget_bytes,
          " bytes: ask for fewer new tokens or give the worker a larger "
          "--kv-budget"));
    }
  }
  return absl::OkStatus();
}

bool KvAdmission::TryAdmit(uint64_t id, int64_t tokens) {
  for (size_t i = 0; i < stages_.size(); ++i) {
    const StageKv& s = stages_[i];
    if (s.budget_bytes == 0) continue;
    if (used_[i] + SessionBytes(s, tokens) > s.budget_bytes) return false;
  }
  for (size_t i = 0; i < stages_.size(); ++i) {
    used_[i] += SessionBytes(stages_[i], tokens);
  }
  sessions_[id] = tokens;
  return true;
}

void KvAdmission::Release(uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  for (size_t i = 0; i < stages_.size(); ++i) {
    used_[i] -= SessionBytes(stages_[i], it->second);
  }
  sessions_.erase(it);
}

}  // namespace tessera::coordinator
