// Loading a shard on a worker: locate the model in --model-dir, check the
// memory budget, create the backend, upload the layers, open the stream to
// the next stage, and start the ShardRunner.
#ifndef TESSERA_WORKER_SHARD_LOADER_H_
#define TESSERA_WORKER_SHARD_LOADER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "model/model_file.h"
#include "tessera/v1/worker.pb.h"
#include "worker/link_emulation.h"
#include "worker/model_registry.h"
#include "worker/rpc_util.h"
#include "worker/shard_runner.h"

namespace tessera::worker {

struct WorkerOptions {
  std::string name = "worker";
  std::string model_dir;
  int64_t memory_budget_bytes = 0;  // 0 = physical memory
  std::string backend = "cpu";      // "reference", "cpu", "opencl[:P:D]"
  int threads = 1;
  // KV cache element type (kernels::BackendOptions::kv_type): F32 or F16.
  model::GgmlType kv_type = model::GgmlType::kF32;
  // Bytes all sessions' KV caches may take together.
  int64_t kv_budget_bytes = int64_t{256} << 20;
  std::string token;
  TlsFiles tls;
  std::string profile_cache_path;  // empty = no cache
  // Emulating a slower device: after each batch's compute, sleep
  // (emulate_slowdown - 1) x the measured compute time (the compute
  // thread's CPU time with one thread on the cpu or reference backend, wall
  // time otherwise). >= 1.
  double emulate_slowdown = 1;
  // Fault injection for tests: the compute thread stalls in this step.
  int64_t fault_hang_after_steps = 0;
  // Emulating the network: delays every frame to the next stage and every
  // event of the last stage (tokens back to the coordinator).
  LinkEmulation emulate_link;
};

// A loaded shard. Members are destroyed runner first: the backend may point
// into the model file's mapping.
struct LoadedShard {
  std::unique_ptr<model::ModelFile> model;
  std::unique_ptr<ShardRunner> runner;
  v1::LoadShardRequest request;
  v1::LoadShardResponse response;
  ~LoadedShard() { runner.reset(); }
};

// Creates a backend by name; "reference" is the worker's ReferenceBackend.
absl::StatusOr<std::unique_ptr<kernels::Backend>> MakeBackend(
    const std::string& name, const kernels::BackendOptions& options);

// Bytes a shard will need: weights in their execution formats plus the KV
// cache budget. Pure arithmetic on the config.
int64_t EstimateShardBytes(const model::ModelConfig& config,
                           const kernels::ShardSpec& spec,
                           int64_t kv_budget_bytes);

// Does everything described in the file comment. FailedPrecondition when
// the model is not in the directory, ResourceExhausted over the budget,
// InvalidArgument for a bad request; errors carry the worker name.
absl::StatusOr<std::unique_ptr<LoadedShard>> LoadShard(
    const WorkerOptions& options, ModelRegistry& registry,
    const v1::LoadShardRequest& request, EventPublisher publish);

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_SHARD_LOADER_H_
