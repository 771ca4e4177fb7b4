// WorkerService: the worker daemon's gRPC service (callback API). Reactors
// never block: shard loading, profiling and link measurements run on a
// TaskRunner; frames go to the ShardRunner's compute thread. Every call must
// carry the join token (when one is configured).
//
// Thread-safety: gRPC calls the service from many threads; all state is
// guarded.
#ifndef TESSERA_WORKER_WORKER_SERVICE_H_
#define TESSERA_WORKER_WORKER_SERVICE_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tessera/v1/worker.grpc.pb.h"
#include "worker/event_hub.h"
#include "worker/model_registry.h"
#include "worker/shard_loader.h"
#include "worker/task_runner.h"

namespace tessera::worker {

class WorkerService final : public v1::WorkerService::CallbackService {
 public:
  explicit WorkerService(WorkerOptions options);
  ~WorkerService() override;

  grpc::ServerUnaryReactor* Handshake(grpc::CallbackServerContext* context,
                                      const v1::HandshakeRequest* request,
                                      v1::HandshakeResponse* response) override;
  grpc::ServerUnaryReactor* Profile(grpc::CallbackServerContext* context,
                                    const v1::ProfileRequest* request,
                                    v1::ProfileResponse* response) override;
  grpc::ServerUnaryReactor* LoadShard(grpc::CallbackServerContext* context,
                                      const v1::LoadShardRequest* request,
                                      v1::LoadShardResponse* response) override;
  grpc::ServerBidiReactor<v1::ForwardFrame, v1::ForwardAck>* Forward(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::WorkerEvent>* Events(
      grpc::CallbackServerContext* context,
      const v1::EventsRequest* request) override;
  grpc::ServerUnaryReactor* LinkProbe(grpc::CallbackServerContext* context,
                                      const v1::LinkProbeRequest* request,
                                      v1::LinkProbeResponse* response) override;
  grpc::ServerUnaryReactor* MeasureLink(
      grpc::CallbackServerContext* context,
      const v1::MeasureLinkRequest* request,
      v1::MeasureLinkResponse* response) override;

  // The shard frames go to (null before LoadShard). Used by the reactors.
  std::shared_ptr<LoadedShard> current_shard() const;
  const WorkerOptions& options() const { return options_; }

 private:
  // Finishes `context`'s default reactor with UNAUTHENTICATED and returns it
  // when the token is wrong; null when the call may proceed.
  grpc::ServerUnaryReactor* RejectUnauthenticated(
      grpc::CallbackServerContext* context);
  absl::Status DoProfile(const v1::ProfileRequest& request,
                         v1::ProfileResponse* response);
  void FillBackends(google::protobuf::RepeatedPtrField<v1::BackendCapabilities>*
                        backends) const;

  const WorkerOptions options_;
  ModelRegistry registry_;
  mutable absl::Mutex mutex_;
  std::shared_ptr<LoadedShard> shard_ ABSL_GUARDED_BY(mutex_);
  EventHub events_;
  TaskRunner tasks_;  // last: joined first, while the rest is alive
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_WORKER_SERVICE_H_
