// The server-side reactors of the worker's streams.
//
// ForwardReactor: one per Forward stream from the previous stage. Each frame
// read is handed to the current ShardRunner (never processed on the gRPC
// thread); acks come back through an OutboundQueue. Frames arriving before
// a shard is loaded are acked FAILED_PRECONDITION.
//
// EventsReactor: the coordinator's Events subscription; writes whatever the
// EventHub pushes into its queue.
#ifndef TESSERA_WORKER_FORWARD_REACTOR_H_
#define TESSERA_WORKER_FORWARD_REACTOR_H_

#include <memory>

#include "tessera/v1/worker.grpc.pb.h"
#include "worker/outbound_queue.h"
#include "worker/shard_runner.h"

namespace tessera::worker {

class WorkerService;

class ForwardReactor final
    : public grpc::ServerBidiReactor<v1::ForwardFrame, v1::ForwardAck> {
 public:
  // `auth` is the result of the token check: non-OK ends the call at once.
  ForwardReactor(WorkerService* service, const grpc::Status& auth);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override { acks_->OnWriteDone(ok); }
  void OnCancel() override {}
  void OnDone() override { delete this; }

 private:
  WorkerService* const service_;
  std::shared_ptr<AckQueue> acks_;
  v1::ForwardFrame frame_;
};

class EventsReactor final : public grpc::ServerWriteReactor<v1::WorkerEvent> {
 public:
  EventsReactor();
  const std::shared_ptr<OutboundQueue<v1::WorkerEvent>>& queue() {
    return queue_;
  }
  void OnWriteDone(bool ok) override { queue_->OnWriteDone(ok); }
  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<OutboundQueue<v1::WorkerEvent>> queue_;
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_FORWARD_REACTOR_H_
