// CoordinatorService: the coordinator's gRPC service (callback API). Generate
// streams responses through an OutboundQueue fed by the Coordinator's event
// threads, so no reactor ever blocks. Every call must carry the join token
// when one is configured. The service can run before the Coordinator
// exists, so that workers can register while the cluster forms
// (tessera-coordinator --expect-workers N).
//
// Thread-safety: gRPC calls it from many threads; its own state is guarded
// and the Coordinator is thread-safe.
#ifndef TESSERA_COORDINATOR_COORDINATOR_SERVICE_H_
#define TESSERA_COORDINATOR_COORDINATOR_SERVICE_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/coordinator.h"
#include "tessera/v1/coordinator.grpc.pb.h"

namespace tessera::coordinator {

// A worker that announced itself with RegisterWorker.
struct RegisteredWorker {
  std::string name;
  std::string address;
};

class CoordinatorService final : public v1::CoordinatorService::CallbackService {
 public:
  // Generate and ClusterStatus answer UNAVAILABLE until SetCoordinator().
  explicit CoordinatorService(std::string token) : token_(std::move(token)) {}

  // REQUIRES: called once; `coordinator` outlives the service.
  void SetCoordinator(Coordinator* coordinator);

  // Blocks until `n` distinct workers (by address) registered, and returns
  // them in order of first registration. DeadlineExceeded after `timeout`,
  // naming those that did register.
  absl::StatusOr<std::vector<RegisteredWorker>> AwaitRegistrations(
      int n, absl::Duration timeout);

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
  // The coordinator, or UNAVAILABLE saying the cluster is still forming.
  absl::StatusOr<Coordinator*> Ready();
  // Records a registration; the reply's message.
  std::string Record(const v1::RegisterWorkerRequest& request);

  const std::string token_;
  absl::Mutex mutex_;
  Coordinator* coordinator_ ABSL_GUARDED_BY(mutex_) = nullptr;
  int awaited_ ABSL_GUARDED_BY(mutex_) = 0;
  std::vector<RegisteredWorker> registered_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_COORDINATOR_SERVICE_H_
