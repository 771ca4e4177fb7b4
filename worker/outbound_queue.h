// OutboundQueue: the write side of a gRPC callback server stream. gRPC
// allows one outstanding write per call; producers on any thread Push()
// messages and the queue starts the next write from OnWriteDone, so no
// thread ever blocks. Finish() takes effect once queued writes have drained.
//
// Ownership: held by shared_ptr by the reactor and by producers. After
// Finish() has been issued (or a write failed) Push() returns false and the
// reactor's callbacks are never invoked again, so producers may outlive the
// reactor safely.
//
// Thread-safety: all methods are thread-safe.
#ifndef TESSERA_WORKER_OUTBOUND_QUEUE_H_
#define TESSERA_WORKER_OUTBOUND_QUEUE_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <optional>

#include "absl/synchronization/mutex.h"

namespace tessera::worker {

template <typename Msg>
class OutboundQueue {
 public:
  using StartWriteFn = std::function<void(const Msg*)>;
  using FinishFn = std::function<void(const grpc::Status&)>;

  OutboundQueue(StartWriteFn start_write, FinishFn finish)
      : start_write_(std::move(start_write)), finish_(std::move(finish)) {}

  // Queues `msg`; false when the stream is finishing or finished.
  bool Push(Msg msg) {
    const Msg* to_write = nullptr;
    {
      absl::MutexLock lock(&mutex_);
      if (finish_status_.has_value() || finished_) return false;
      queue_.push_back(std::move(msg));
      if (writing_) return true;
      writing_ = true;
      to_write = &queue_.front();
    }
    start_write_(to_write);
    return true;
  }

  // Ends the call with `status` after the queued writes (first call wins).
  void Finish(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mutex_);
      if (finish_status_.has_value() || finished_) return;
      finish_status_ = status;
      if (writing_) return;  // OnWriteDone finishes
      finished_ = true;
    }
    finish_(status);
  }

  // To be called from the reactor's OnWriteDone.
  void OnWriteDone(bool ok) {
    const Msg* to_write = nullptr;
    grpc::Status status;
    {
      absl::MutexLock lock(&mutex_);
      queue_.pop_front();
      if (!ok) {  // the client is gone: drop the rest
        queue_.clear();
        if (!finish_status_.has_value()) {
          finish_status_ = grpc::Status(grpc::StatusCode::CANCELLED,
                                        "write failed: client gone");
        }
      }
      if (!queue_.empty()) {
        to_write = &queue_.front();
      } else {
        writing_ = false;
        if (!finish_status_.has_value() || finished_) return;
        finished_ = true;
        status = *finish_status_;
      }
    }
    if (to_write != nullptr) {
      start_write_(to_write);
    } else {
      finish_(status);
    }
  }

  bool closed() const {
    absl::MutexLock lock(&mutex_);
    return finish_status_.has_value() || finished_;
  }

 private:
  const StartWriteFn start_write_;
  const FinishFn finish_;
  mutable absl::Mutex mutex_;
  std::deque<Msg> queue_ ABSL_GUARDED_BY(mutex_);  // front is being written
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_OUTBOUND_QUEUE_H_
