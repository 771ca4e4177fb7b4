// CoordinatorService: the coordinator's gRPC service (callback API). Generate
// streams responses through an OutboundQueue fed by the Coordinator's event
// threads, so no reactor ever blocks. Every call must carry the join token
// when one is configured.
//
// Thread-safety: gRPC calls it from many threads; state lives in the
// thread-safe Coordinator.
#ifndef TESSERA_COORDINATOR_COORDINATOR_SERVICE_H_
#define TESSERA_COORDINATOR_COORDINATOR_SERVICE_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/coordinator.h"
#include "tessera/v1/coordinator.grpc.pb.h"

namespace tessera::coordinator {

class CoordinatorService final : public v1::CoordinatorService::CallbackService {
 public:
  // REQUIRES: `coordinator` outlives the service.
  CoordinatorService(Coordinator* coordinator, std::string token)
      : coordinator_(coordinator), token_(std::move(token)) {}

  grpc::ServerUnaryReactor* RegisterWorker(
      grpc::CallbackServerContext* context,
      const v1::RegisterWorkerRequest* request,
      v1::RegisterWorkerResponse* response) override;
  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context,
      const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* ClusterStatus(
      grpc::CallbackServerContext* context,
      const v1::ClusterStatusRequest* request,
      v1::ClusterStatusResponse* response) override;

 private:
  Coordinator* const coordinator_;
  const std::string token_;
  absl::Mutex mutex_;
  // Workers that announced themselves; the plan uses --workers today.
  std::vector<std::string> registered_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_COORDINATOR_SERVICE_H_
