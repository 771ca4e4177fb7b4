// Coordinator: owns the cluster for one model. Create() opens the model
// (tokenizer, shapes, identity), connects to the listed workers (versioned
// handshake; each must hold the model), profiles them and the links between
// them, plans the stages,
// loads the shards and subscribes to every worker's events. Then Generate
// requests run concurrently as pipeline sessions: prompts and sampled
// tokens enter stage 0 over one persistent stream (frames of several
// sessions are merged into micro-batches), activations flow worker to
// worker, and the last stage's token events come back here.
//
// Failure: a worker whose event stream breaks or whose heartbeats stop for
// `liveness_timeout` is marked dead; every request in flight ends with
// UNAVAILABLE naming it, and new requests are refused with the same error
// until the cluster is re-planned (a later issue). The coordinator itself
// stays up.
//
// Thread-safety: all public methods are thread-safe.
#ifndef TESSERA_COORDINATOR_COORDINATOR_H_
#define TESSERA_COORDINATOR_COORDINATOR_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/cluster_file.h"
#include "coordinator/generation_request.h"
#include "coordinator/kv_admission.h"
#include "coordinator/partitioner_plan.h"
#include "coordinator/stage_plan.h"
#include "coordinator/worker_client.h"
#include "model/model_file.h"
#include "tessera/v1/coordinator.pb.h"
#include "worker/activation_codec.h"
#include "worker/rpc_util.h"
#include "worker/stage_link.h"

namespace tessera::coordinator {

struct CoordinatorOptions {
  std::string model_path;
  std::vector<std::string> workers;  // HOST:PORT
  // Instead of `workers` (exactly one of the two): the devices of a cluster
  // file, whose names the planner uses and whose budgets cap the workers'.
  std::optional<ClusterFile> cluster;
  // "measured": every link is measured (link_survey.h); "declared": the
  // cluster file's links are used as written (requires `cluster`).
  std::string links = "measured";
  std::string token;
  worker::TlsFiles tls;
  worker::CodecOptions codec;
  model::GgmlType format = model::GgmlType::kF32;  // layer execution format
  int64_t max_context_tokens = 0;  // 0 = the model's
  // "partitioner" (falls back to "even" when it fails) or "even".
  std::string planner = "partitioner";
  absl::Duration liveness_timeout = absl::Seconds(3);
  absl::Duration session_idle_timeout = absl::Seconds(60);
};

class Coordinator {
 public:
  // Everything described in the file comment; errors name the worker.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(
      CoordinatorOptions options);
  ~Coordinator();

  // Validates and starts a request whose responses go to `responses`.
  // InvalidArgument for a bad request, OutOfRange for a prompt that does not
  // fit, Unavailable when a stage is down. Returns the session id.
  absl::StatusOr<uint64_t> StartGenerate(
      const v1::GenerateRequest& request,
      std::shared_ptr<ResponseQueue> responses);

  // Abandons a request (client went away); its sessions are released.
  void Cancel(uint64_t session_id);

  v1::ClusterStatusResponse ClusterStatus() const;

 private:
  struct Stage {
    StageAssignment assignment;
    v1::LoadShardResponse loaded;
    v1::ProfileResponse profile;
  };

  explicit Coordinator(CoordinatorOptions options);
  absl::Status Connect();
  absl::Status ProfileWorkers();
  // Unique planner names: the cluster file's, else the workers' own.
  std::vector<std::string> PlannerNames() const;
  void AddLinks(MeasuredCluster& measured) const;
  absl::StatusOr<StagePlan> MakePlan();
  absl::Status LoadStages();
  v1::LoadShardRequest ShardRequest(size_t stage) const;
  void OpenStage0Link();
  absl::StatusOr<std::vector<int32_t>> Tokenize(
      const v1::GenerateRequest& request) const;
  void OnEvent(const v1::WorkerEvent& event);
  void OnWorkerDead(const absl::Status& reason);
  // Forgets the request, releases its session on every stage and admits
  // waiting requests its KV memory makes room for.
  void Release(uint64_t session_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Starts waiting requests, in order, while the stages can hold them.
  void AdmitWaiting() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void WatchdogLoop();
  // Adds a decode step's per-stage times to the cluster statistics.
  void RecordTimings(const v1::TokenEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const CoordinatorOptions options_;
  std::unique_ptr<model::ModelFile> model_;
  v1::ModelId model_id_;
  int64_t max_tokens_ = 0;
  std::vector<std::unique_ptr<WorkerClient>> workers_;
  std::vector<v1::ProfileResponse> profiles_;  // one per worker
  StagePlan plan_;
  std::vector<Stage> stages_;
  std::unique_ptr<worker::StageLink> stage0_;

  mutable absl::Mutex mutex_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<GenerationRequest>> requests_
      ABSL_GUARDED_BY(mutex_);
  uint64_t next_session_ ABSL_GUARDED_BY(mutex_) = 1;
  KvAdmission admission_ ABSL_GUARDED_BY(mutex_);
  struct Waiting {
    uint64_t id;
    int64_t longest;  // tokens to reserve
  };
  // Requests not admitted yet, oldest first (ids of cancelled or failed
  // ones are skipped).
  std::deque<Waiting> waiting_ ABSL_GUARDED_BY(mutex_);
  absl::Status cluster_down_ ABSL_GUARDED_BY(mutex_);
  struct StageTotals {
    int64_t compute_us = 0;
    int64_t steps = 0;
  };
  absl::flat_hash_map<std::string, StageTotals> stage_totals_
      ABSL_GUARDED_BY(mutex_);
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread watchdog_;
};

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_COORDINATOR_H_
