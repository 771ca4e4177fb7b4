#include "worker/event_hub.h"

#include "absl/time/clock.h"

namespace tessera::worker {

EventHub::EventHub(absl::Duration heartbeat_period,
                   std::function<void(v1::Heartbeat&)> fill)
    : period_(heartbeat_period), fill_(std::move(fill)) {
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
}

EventHub::~EventHub() {
  {
    absl::MutexLock lock(&mutex_);
    stop_ = true;
  }
  heartbeat_.join();
  absl::MutexLock lock(&mutex_);
  for (auto& subscriber : subscribers_) {
    subscriber->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "worker shutting down"));
  }
}

void EventHub::Subscribe(std::shared_ptr<EventQueue> subscriber) {
  absl::MutexLock lock(&mutex_);
  subscribers_.push_back(std::move(subscriber));
}

void EventHub::Publish(const v1::WorkerEvent& event) {
  absl::MutexLock lock(&mutex_);
  std::vector<std::shared_ptr<EventQueue>> live;
  for (auto& subscriber : subscribers_) {
    if (subscriber->Push(event)) live.push_back(std::move(subscriber));
  }
  subscribers_ = std::move(live);
}

void EventHub::HeartbeatLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mutex_);
      mutex_.AwaitWithTimeout(absl::Condition(&stop_), period_);
      if (stop_) return;
    }
    v1::WorkerEvent event;
    event.mutable_heartbeat()->set_unix_micros(absl::ToUnixMicros(absl::Now()));
    if (fill_) fill_(*event.mutable_heartbeat());
    Publish(event);
  }
}

}  // namespace tessera::worker
