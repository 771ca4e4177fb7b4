#include "worker/forward_reactor.h"

#include "worker/rpc_util.h"
#include "worker/worker_service.h"

namespace tessera::worker {

ForwardReactor::ForwardReactor(WorkerService* service,
                               const grpc::Status& auth)
    : service_(service) {
  acks_ = std::make_shared<AckQueue>(
      [this](const v1::ForwardAck* ack) { StartWrite(ack); },
      [this](const grpc::Status& status) { Finish(status); });
  if (!auth.ok()) {
    acks_->Finish(auth);
    return;
  }
  StartRead(&frame_);
}

void ForwardReactor::OnReadDone(bool ok) {
  if (!ok) {  // the previous stage closed the stream (or it broke)
    acks_->Finish(grpc::Status::OK);
    return;
  }
  std::shared_ptr<LoadedShard> shard = service_->current_shard();
  if (shard == nullptr) {
    acks_->Push(MakeAck(frame_.sequence(),
                        absl::FailedPreconditionError(
                            "worker " + service_->options().name +
                            ": no shard loaded"),
                        /*refused=*/true));
  } else {
    shard->runner->Submit(std::move(frame_), acks_);
  }
  frame_.Clear();
  StartRead(&frame_);
}

EventsReactor::EventsReactor() {
  queue_ = std::make_shared<OutboundQueue<v1::WorkerEvent>>(
      [this](const v1::WorkerEvent* event) { StartWrite(event); },
      [this](const grpc::Status& status) { Finish(status); });
}

void EventsReactor::OnCancel() {
  queue_->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
}

}  // namespace tessera::worker
