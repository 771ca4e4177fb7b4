// WorkerClient: the coordinator's connection to one worker: unary calls with
// deadlines (handshake, profile, load shard) and the Events subscription,
// read on a thread of its own. The worker counts as dead when the Events
// stream ends, when no event (heartbeats come every second) arrived for
// `liveness_timeout`, or when a heartbeat reports a compute step running
// past its budget (a stuck compute thread); `on_dead` is then called once
// with the reason.
//
// Thread-safety: all methods are thread-safe.
#ifndef TESSERA_COORDINATOR_WORKER_CLIENT_H_
#define TESSERA_COORDINATOR_WORKER_CLIENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tessera/v1/worker.grpc.pb.h"

namespace tessera::coordinator {

class WorkerClient {
 public:
  using EventFn = std::function<void(const v1::WorkerEvent&)>;
  using DeadFn = std::function<void(const absl::Status&)>;

  WorkerClient(std::string address, std::shared_ptr<grpc::Channel> channel,
               std::string token);
  ~WorkerClient();

  const std::string& address() const { return address_; }
  // The worker's name after Handshake (its address before).
  std::string name() const;
  // "worker NAME (ADDRESS)", for messages.
  std::string label() const;
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  // Unary calls; errors are prefixed with label().
  absl::StatusOr<v1::HandshakeResponse> Handshake(const v1::ModelId& model);
  absl::StatusOr<v1::ProfileResponse> Profile();
  absl::StatusOr<v1::LoadShardResponse> LoadShard(
      const v1::LoadShardRequest& request);
  // Asks the worker to measure its link to `peer_address` (1 MiB payload).
  absl::StatusOr<v1::MeasureLinkResponse> MeasureLink(
      const std::string& peer_address);

  // Subscribes to events. REQUIRES: called once.
  void StartEvents(EventFn on_event, DeadFn on_dead);
  // Declares the worker dead when silent for longer than `timeout`. Called
  // periodically by the coordinator's watchdog.
  void CheckLiveness(absl::Duration timeout);
  bool alive() const;
  absl::Status dead_reason() const;

 private:
  void ReadEvents();
  void MarkDead(const absl::Status& reason);

  const std::string address_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::string token_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;

  mutable absl::Mutex mutex_;
  std::string name_ ABSL_GUARDED_BY(mutex_);
  absl::Time last_event_ ABSL_GUARDED_BY(mutex_);
  absl::Status dead_ ABSL_GUARDED_BY(mutex_);
  std::unique_ptr<grpc::ClientContext> events_context_ ABSL_GUARDED_BY(mutex_);

  EventFn on_event_;
  DeadFn on_dead_;
  std::thread reader_;
};

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_WORKER_CLIENT_H_
