// EventHub: fans a worker's events (sampled tokens, session errors) out to
// every open Events stream (normally one: the coordinator's), and publishes
// a heartbeat every `heartbeat_period` so a subscriber notices a hung worker.
//
// Thread-safety: all methods are thread-safe.
#ifndef TESSERA_WORKER_EVENT_HUB_H_
#define TESSERA_WORKER_EVENT_HUB_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tessera/v1/worker.pb.h"
#include "worker/outbound_queue.h"

namespace tessera::worker {

using EventQueue = OutboundQueue<v1::WorkerEvent>;

class EventHub {
 public:
  // `fill` completes each heartbeat (sessions, the running step).
  EventHub(absl::Duration heartbeat_period,
           std::function<void(v1::Heartbeat&)> fill);
  ~EventHub();

  void Subscribe(std::shared_ptr<EventQueue> subscriber);
  // Sends `event` to every live subscriber; drops closed ones.
  void Publish(const v1::WorkerEvent& event);

 private:
  void HeartbeatLoop();

  const absl::Duration period_;
  const std::function<void(v1::Heartbeat&)> fill_;
  absl::Mutex mutex_;
  std::vector<std::shared_ptr<EventQueue>> subscribers_ ABSL_GUARDED_BY(mutex_);
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread heartbeat_;
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_EVENT_HUB_H_
