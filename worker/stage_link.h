// StageLink: the client side of a persistent Forward stream to a pipeline
// stage (a worker to the next worker, the coordinator to stage 0).
//
// Send() queues a frame and returns at once; a sender thread writes queued
// frames in order, merging consecutive token-only frames (no activations)
// into one micro-batch frame. A reader thread consumes the acks and hands
// non-OK ones to `on_ack_error`. When the stream breaks, the frames being
// written are lost, `on_broken` is told, and the next Send() reopens the
// stream (a restarted peer is picked up again).
//
// With `emulation` enabled, frames first pass a DelayLine that holds each
// one for the emulated link's latency, serialisation time and jitter.
//
// Thread-safety: Send() may be called from any thread. Callbacks run on the
// link's own threads and must not call back into the link's destructor.
#ifndef TESSERA_WORKER_STAGE_LINK_H_
#define TESSERA_WORKER_STAGE_LINK_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "tessera/v1/worker.grpc.pb.h"
#include "worker/link_emulation.h"

namespace tessera::worker {

class StageLink {
 public:
  struct Options {
    std::string peer_name;  // for messages: "worker w2 (127.0.0.1:5000)"
    std::string token;
    std::function<void(const v1::ForwardAck&)> on_ack_error;
    // Told about every frame that could not be written.
    std::function<void(const absl::Status&, const v1::ForwardFrame& lost)>
        on_broken;
    LinkEmulation emulation;  // disabled by default
  };

  StageLink(std::shared_ptr<grpc::Channel> channel, Options options);
  ~StageLink();  // Flushes nothing: queued frames are dropped.

  StageLink(const StageLink&) = delete;
  StageLink& operator=(const StageLink&) = delete;

  // Queues `frame`. Never blocks on the network.
  void Send(v1::ForwardFrame frame);

  // Total bytes of frames handed to the stream (for statistics).
  int64_t bytes_sent() const;

 private:
  struct Stream;
  void Enqueue(v1::ForwardFrame frame);
  void SenderLoop();
  bool EnsureStream();  // opens a stream when there is none; false on failure
  void CloseStream();
  static void MergeTokenFrames(std::deque<v1::ForwardFrame>& queue,
                               v1::ForwardFrame& out);

  std::unique_ptr<v1::WorkerService::Stub> stub_;
  Options options_;
  std::unique_ptr<Stream> stream_;  // used by the sender thread only

  mutable absl::Mutex mutex_;
  std::deque<v1::ForwardFrame> queue_ ABSL_GUARDED_BY(mutex_);
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  int64_t bytes_sent_ ABSL_GUARDED_BY(mutex_) = 0;
  std::thread sender_;
  std::unique_ptr<DelayLine> delay_;  // null without emulation
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_STAGE_LINK_H_
