#include "coordinator/coordinator_service.h"

#include "absl/strings/str_cat.h"
#include "coordinator/cluster_file.h"
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

void CoordinatorService::SetCoordinator(Coordinator* coordinator) {
  absl::MutexLock lock(&mutex_);
  coordinator_ = coordinator;
}

absl::StatusOr<Coordinator*> CoordinatorService::Ready() {
  absl::MutexLock lock(&mutex_);
  if (coordinator_ != nullptr) return coordinator_;
  return absl::UnavailableError(absl::StrCat(
      "the cluster is forming: ", registered_.size(), " of ", awaited_,
      " workers registered"));
}

absl::StatusOr<std::vector<RegisteredWorker>>
CoordinatorService::AwaitRegistrations(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mutex_);
  awaited_ = n;
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return static_cast<int>(registered_.size()) >= n;
  };
  if (!mutex_.AwaitWithTimeout(absl::Condition(&enough), timeout)) {
    std::string names;
    for (const RegisteredWorker& w : registered_) {
      absl::StrAppend(&names, names.empty() ? "" : ", ", w.name, " (",
                      w.address, ")");
    }
    return absl::DeadlineExceededError(absl::StrCat(
        "only ", registered_.size(), " of ", n, " workers registered within ",
        absl::FormatDuration(timeout), names.empty() ? "" : ": ", names));
  }
  return std::vector<RegisteredWorker>(registered_.begin(),
                                       registered_.begin() + n);
}

std::string CoordinatorService::Record(const v1::RegisterWorkerRequest& request) {
  absl::MutexLock lock(&mutex_);
  for (RegisteredWorker& w : registered_) {
    if (w.address != request.address()) continue;
    w.name = request.name();  // a restarted worker registers again
    return "registered again";
  }
  registered_.push_back({request.name(), request.address()});
  LOG(INFO) << "worker " << request.name() << " (" << request.address()
            << ") registered";
  if (coordinator_ != nullptr) {
    return "registered; the running plan includes it after a re-plan";
  }
  return absl::StrCat("registered (", registered_.size(), " of ", awaited_,
                      ")");
}

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
  absl::Status address = ValidateAddress(request->address());
  if (request->protocol_version() != worker::kProtocolVersion) {
    response->set_message(absl::StrCat("coordinator speaks protocol ",
                                       worker::kProtocolVersion));
  } else if (!address.ok() || request->name().empty()) {
    reactor->Finish(worker::ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "registration needs a name and a HOST:PORT address: ",
        address.ok() ? "the name is empty" : address.message()))));
    return reactor;
  } else {
    response->set_accepted(true);
    response->set_message(Record(*request));
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::GenerateResponse>* CoordinatorService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  absl::StatusOr<Coordinator*> ready = Ready();
  auto* reactor = new GenerateReactor(ready.ok() ? *ready : nullptr);
  grpc::Status auth = worker::CheckToken(*context, token_);
  if (auth.ok() && !ready.ok()) auth = worker::ToGrpc(ready.status());
  reactor->Start(auth, *request);
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorService::ClusterStatus(
    grpc::CallbackServerContext* context,
    const v1::ClusterStatusRequest* request,
    v1::ClusterStatusResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status auth = worker::CheckToken(*context, token_);
  absl::StatusOr<Coordinator*> ready = Ready();
  if (auth.ok() && !ready.ok()) auth = worker::ToGrpc(ready.status());
  if (auth.ok()) *response = (*ready)->ClusterStatus();
  reactor->Finish(auth);
  return reactor;
}

}  // namespace tessera::coordinator
