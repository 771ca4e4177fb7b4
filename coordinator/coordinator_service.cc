#include "coordinator/coordinator_service.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "worker/rpc_util.h"

namespace tessera::coordinator {
namespace {

class GenerateReactor final
    : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  explicit GenerateReactor(Coordinator* coordinator)
      : coordinator_(coordinator) {
    queue_ = std::make_shared<ResponseQueue>(
        [this](const v1::GenerateResponse* r) { StartWrite(r); },
        [this](const grpc::Status& s) { Finish(s); });
  }
  void Start(const grpc::Status& auth, const v1::GenerateRequest& request) {
    if (!auth.ok()) {
      queue_->Finish(auth);
      return;
    }
    absl::StatusOr<uint64_t> id = coordinator_->StartGenerate(request, queue_);
    if (!id.ok()) {
      queue_->Finish(worker::ToGrpc(id.status()));
      return;
    }
    absl::MutexLock lock(&mutex_);
    session_ = *id;
  }
  void OnWriteDone(bool ok) override { queue_->OnWriteDone(ok); }
  void OnCancel() override {
    uint64_t session;
    {
      absl::MutexLock lock(&mutex_);
      session = session_;
    }
    if (session != 0) coordinator_->Cancel(session);
    queue_->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }
  void OnDone() override { delete this; }

 private:
  Coordinator* const coordinator_;
  std::shared_ptr<ResponseQueue> queue_;
  absl::Mutex mutex_;
  uint64_t session_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace

grpc::ServerUnaryReactor* CoordinatorService::RegisterWorker(
    grpc::CallbackServerContext* context,
    const v1::RegisterWorkerRequest* request,
    v1::RegisterWorkerResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status auth = worker::CheckToken(*context, token_);
  if (!auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  response->set_protocol_version(worker::kProtocolVersion);
  if (request->protocol_version() != worker::kProtocolVersion) {
    response->set_accepted(false);
    response->set_message(absl::StrCat("coordinator speaks protocol ",
                                       worker::kProtocolVersion));
  } else {
    absl::MutexLock lock(&mutex_);
    registered_.push_back(request->address());
    response->set_accepted(true);
    response->set_message(
        "registered; the current plan uses the --workers list, a re-plan "
        "will include this worker");
    LOG(INFO) << "worker " << request->name() << " (" << request->address()
              << ") registered";
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::GenerateResponse>* CoordinatorService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  auto* reactor = new GenerateReactor(coordinator_);
  reactor->Start(worker::CheckToken(*context, token_), *request);
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorService::ClusterStatus(
    grpc::CallbackServerContext* context,
    const v1::ClusterStatusRequest* request,
    v1::ClusterStatusResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status auth = worker::CheckToken(*context, token_);
  if (auth.ok()) *response = coordinator_->ClusterStatus();
  reactor->Finish(auth);
  return reactor;
}

}  // namespace tessera::coordinator
