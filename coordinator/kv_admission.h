// KvAdmission: the coordinator's ledger of KV cache memory on each pipeline
// stage. A request is admitted only when every stage can hold its session
// at its longest (prompt + max_new_tokens, capped at the context), charged
// the way that stage's backend charges it (LoadShardResponse: pages,
// growth, budget). So an admitted session never runs out of KV memory in
// the middle of its generation; requests that do not fit now wait (the
// coordinator queues them) and requests that could never fit are refused
// up front.
//
// Thread-safety: thread-compatible (the coordinator holds its mutex).
#ifndef TESSERA_COORDINATOR_KV_ADMISSION_H_
#define TESSERA_COORDINATOR_KV_ADMISSION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace tessera::coordinator {

struct StageKv {
  std::string worker_name;
  int64_t budget_bytes = 0;  // 0: the stage does not limit its KV memory
  int64_t bytes_per_token = 0;
  int64_t page_tokens = 1;
  int64_t growth = 1;
};

class KvAdmission {
 public:
  KvAdmission() = default;
  // Page sizes and growth factors below 1 count as 1.
  explicit KvAdmission(std::vector<StageKv> stages);

  // OK when a session of `tokens` tokens fits every stage on its own;
  // ResourceExhausted naming the first stage it does not fit otherwise.
  absl::Status CheckFits(int64_t tokens) const;

  // Reserves a session of `tokens` tokens on every stage when all of them
  // can hold it next to the sessions admitted so far; false (nothing
  // reserved) otherwise. REQUIRES: `id` is not admitted.
  bool TryAdmit(uint64_t id, int64_t tokens);

  // Returns the session's reservation; unknown ids are ignored.
  void Release(uint64_t id);

  int64_t admitted() const { return static_cast<int64_t>(sessions_.size()); }

 private:
  // The most bytes a session of `tokens` tokens takes on `stage`.
  static int64_t SessionBytes(const StageKv& stage, int64_t tokens);

  std::vector<StageKv> stages_;
  std::vector<int64_t> used_;  // per stage
  absl::flat_hash_map<uint64_t, int64_t> sessions_;  // id -> tokens
};

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_KV_ADMISSION_H_
