// OpenClShard: a shard's weights resident on an OpenCL device, in the
// execution formats of its ShardSpec, plus the RoPE angle table.
//
// The conversion into execution formats (and the validation of the spec) is
// shard_weights.h's, shared with the CPU backend: the same notes, the same
// F16 fallback for rows that do not fit a block. Per layer the matrices are
// then fused by rows where they share an input: Q|K|V (one matvec launch per
// layer for the three projections) and gate|up; wo and ffn_down stay
// separate. The token embedding is uploaded in its own type when that is an
// execution format (else F16) and looked up on the device.
//
// Thread-safety: immutable after LoadOpenClShard.
#ifndef TESSERA_KERNELS_OPENCL_SHARD_H_
#define TESSERA_KERNELS_OPENCL_SHARD_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/opencl_context.h"
#include "kernels/opencl_matrix.h"
#include "kernels/opencl_ops.h"
#include "kernels/thread_pool.h"
#include "model/model_config.h"
#include "model/weights.h"

namespace tessera::kernels {

struct OpenClLayer {
  DeviceVector attn_norm;
  DeviceVector ffn_norm;
  DeviceVector qkv_bias;  // data is null without biases (llama)
  DeviceMatrix qkv;       // rows: dim + 2*kv_dim
  DeviceMatrix wo;
  DeviceMatrix gate_up;  // rows: 2*ffn (gate first)
  DeviceMatrix down;
};

struct OpenClShard {
  model::ModelConfig config;
  ShardSpec spec;
  HeadShape heads;
  int64_t max_tokens = 0;                   // per-session context
  std::shared_ptr<DeviceMatrix> embedding;  // when spec.has_embedding
  std::shared_ptr<DeviceMatrix> output;     // when spec.has_head
  DeviceVector output_norm;                 // when spec.has_head
  std::vector<OpenClLayer> layers;          // spec.first_layer .. end_layer
  ClMem rope;                               // [max_tokens][rope_dim/2] cos,sin
  ShardReport report;
};

// Validates `spec` against `weights.config` (ValidateShardSpec, plus shapes
// that the kernels can index with 32-bit integers), converts (on `pool`, may
// be null) and uploads the shard. max_tokens (> 0): the per-session context,
// which sizes the RoPE table. InvalidArgument for a bad spec or weights;
// ResourceExhausted when the device cannot hold the shard.
absl::StatusOr<std::unique_ptr<OpenClShard>> LoadOpenClShard(
    OpenClContext& context, const model::ModelWeights& weights,
    const ShardSpec& spec, int64_t max_tokens, ThreadPool* pool);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_SHARD_H_
