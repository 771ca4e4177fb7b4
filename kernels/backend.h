// Backend: executes one shard of a transformer (a contiguous range of layers,
// optionally with the embedding lookup and/or the final norm + output head)
// for batches of rows that may belong to several sessions at different
// positions. The KV cache lives in the backend, per session.
//
// The interface follows ggml's split of responsibilities:
//   allocation + weight upload   LoadShard()    (once; converts formats)
//   execution                    Forward()      (many times)
//   state                        ReleaseSession(), memory()
//   optional                     marked "Optional" below, with defaults.
//
// Row layout of a Batch: rows of one session must be contiguous and in
// increasing position order (a prefill chunk); rows of different sessions may
// be interleaved freely as groups (a decode micro-batch). Positions of a
// session must continue exactly where its KV cache ends (or restart at 0,
// which resets the session).
//
// Thread-safety: a Backend is NOT thread-safe; callers serialise calls. It
// may use its own worker threads internally.
#ifndef TESSERA_KERNELS_BACKEND_H_
#define TESSERA_KERNELS_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/ggml_types.h"
#include "model/weights.h"

namespace tessera::kernels {

using model::GgmlType;

// Which part of the model a backend runs, and in which formats.
struct ShardSpec {
  int64_t first_layer = 0;  // inclusive
  int64_t end_layer = 0;    // exclusive; first_layer <= end_layer <= n_layers
  bool has_embedding = false;  // input rows are token ids
  bool has_head = false;       // output rows are logits
  // Execution format of each layer's matrices (size end_layer - first_layer):
  // F32, F16, Q8_0 or Q4_0. A matrix whose rows do not fit the format's block
  // size (stories260K's ffn_down, 172 wide) is kept in F16 (or F32 when F32
  // was asked for); ShardReport says what was actually used.
  std::vector<GgmlType> layer_formats;
  GgmlType head_format = GgmlType::kF32;  // output matrix format
};

struct BackendOptions {
  int threads = 1;                        // CPU worker threads (>= 1)
  int64_t kv_budget_bytes = 256LL << 20;  // all sessions' KV caches together
  int64_t max_context_tokens = 0;  // per session; 0 = model context length
  // KV cache element type: F32, or F16 (half the memory and half the
  // attention reads; the CPU backend only). A backend rejects, with
  // InvalidArgument, a type it does not keep.
  GgmlType kv_type = GgmlType::kF32;
};

// The KV cache type named by a flag value: "f32" or "f16" (InvalidArgument
// otherwise).
absl::StatusOr<GgmlType> ParseKvType(const std::string& name);

// One row of a batch.
struct BatchRow {
  uint64_t session_id = 0;
  int32_t position = 0;     // 0-based position in the session
  int32_t token = 0;        // used when the shard has the embedding
  bool want_output = true;  // last stage: compute logits for this row
};

struct Batch {
  std::vector<BatchRow> rows;
  // Input activations, rows.size() x dim floats, row-major; ignored (may be
  // empty) when the shard has the embedding.
  std::vector<float> hidden;
};

struct BatchOutput {
  // Without the head: rows.size() x dim hidden states.
  // With the head: one logits vector (vocab floats) per row whose
  // want_output is true, in row order.
  std::vector<float> data;
  int64_t row_width = 0;  // dim or vocab
  int64_t num_rows = 0;
};

// What LoadShard did: actual formats and memory.
struct ShardReport {
  std::vector<std::string> notes;  // e.g. "blk.0.ffn_down kept in f16: ..."
  int64_t weight_bytes = 0;        // resident weight bytes of the shard
  int64_t kv_bytes_per_token = 0;  // per session per token, all layers
  // How sessions' KV caches are charged against the budget, for admission
  // control: a session of n tokens holds at most
  // kv_growth x RoundUp(n, kv_page_tokens) x kv_bytes_per_token bytes, and
  // all sessions together at most kv_budget_bytes (0: not limited).
  int64_t kv_page_tokens = 1;
  int64_t kv_growth = 1;
  int64_t kv_budget_bytes = 0;
};

struct MemoryUsage {
  int64_t weight_bytes = 0;
  int64_t kv_bytes_reserved = 0;  // currently allocated for sessions
  int64_t kv_bytes_cached = 0;    // released by sessions, kept for reuse
  int64_t kv_budget_bytes = 0;
  int64_t scratch_bytes = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu (avx2, 2 threads)", "opencl:0:0 (NVIDIA H100)", ...
  virtual std::string Describe() const = 0;

  // Prepares the shard: validates `spec` against `weights.config`, converts
  // each matrix into its execution format (weights already in that format may
  // be used in place: `weights` must then outlive the backend), uploads.
  // InvalidArgument for a bad spec or unsupported format, ResourceExhausted
  // when the device cannot hold the shard. May be called once.
  virtual absl::StatusOr<ShardReport> LoadShard(
      const model::ModelWeights& weights, const ShardSpec& spec) = 0;

  // Runs the shard over `batch`. InvalidArgument for malformed batches (wrong
  // hidden size, non-contiguous sessions, positions that do not continue the
  // session); OutOfRange when a position exceeds the context;
  // ResourceExhausted when the KV budget cannot hold a new session's tokens.
  // On error no session's state changes. REQUIRES: LoadShard succeeded.
  virtual absl::StatusOr<BatchOutput> Forward(const Batch& batch) = 0;

  // Frees a session's KV cache. NotFound for an unknown session.
  virtual absl::Status ReleaseSession(uint64_t session_id) = 0;

  // Number of tokens cached for a session (0 when unknown).
  virtual int64_t SessionLength(uint64_t session_id) const = 0;

  virtual MemoryUsage memory() const = 0;

  // Optional: whether `format` can be executed natively. Default: F32, F16,
  // Q8_0 and Q4_0.
  virtual bool SupportsFormat(GgmlType format) const;
};

// Creates a backend from a flag value: "cpu" or "opencl[:PLATFORM:DEVICE]".
// InvalidArgument for an unknown name; Unavailable when no such device.
absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(
    const std::string& spec, const BackendOptions& options);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_BACKEND_H_
