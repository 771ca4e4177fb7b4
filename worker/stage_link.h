// StageLink: the client side of a persistent Forward stream to a pipeline
// stage (a worker to the next worker, the coordinator to stage 0).
//
// Send() queues a frame and returns at once; a sender thread writes queued
// frames in order, merging consecutive token-only frames (no activations)
// into one micro-batch frame (a frame with releases ends a merge, as they
// apply after its rows), and numbers them (ForwardFrame.sequence). The
// link remembers the sessions of every frame until its ack arrives; a
// reader thread consumes the acks and reports the sessions of frames the
// peer refused as a whole to `on_refused`. When the stream breaks, every
// frame written but not acknowledged may be lost: their sessions go to
// `on_broken`, and the next Send() reopens the stream (a restarted peer is
// picked up again).
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
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "tessera/v1/worker.grpc.pb.h"
#include "worker/link_emulation.h"

namespace tessera::worker {

class StageLink {
 public:
  using SessionsCallback = std::function<void(
      const absl::Status&, const std::vector<uint64_t>& sessions)>;

  struct Options {
    std::string peer_name;  // for messages: "worker w2 (127.0.0.1:5000)"
    std::string token;
    // The sessions (of rows and starts) of a frame the peer refused as a
    // whole (ForwardAck.refused), with the ack's status.
    SessionsCallback on_refused;
    // The sessions of the frames lost with a broken stream (or a stream
    // that could not be opened), with the reason.
    SessionsCallback on_broken;
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
  // Writes `frame` (numbered and recorded in flight), opening a stream when
  // there is none; on failure closes the stream, reporting what it lost.
  void Write(v1::ForwardFrame frame);
  bool EnsureStream();  // opens a stream when there is none; false on failure
  // Closes the stream; with `report`, hands the sessions of the frames
  // still in flight to on_broken.
  void CloseStream(bool report);
  // The sessions of every frame in flight, which are then forgotten.
  std::vector<uint64_t> TakeInFlight();
  // Hands `lost` (when not empty) to on_broken, Unavailable with `reason`.
  void ReportLost(const std::string& reason, const std::vector<uint64_t>& lost);
  void ReaderLoop(Stream* stream);
  static void MergeTokenFrames(std::deque<v1::ForwardFrame>& queue,
                               v1::ForwardFrame& out);

  std::unique_ptr<v1::WorkerService::Stub> stub_;
  Options options_;
  std::unique_ptr<Stream> stream_;  // used by the sender thread only
  uint64_t next_sequence_ = 1;      // sender thread only

  mutable absl::Mutex mutex_;
  std::deque<v1::ForwardFrame> queue_ ABSL_GUARDED_BY(mutex_);
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  // The reader saw the stream end: wakes the sender to close it.
  bool stream_ended_ ABSL_GUARDED_BY(mutex_) = false;
  // Sessions of each written frame not yet acknowledged, by sequence.
  absl::flat_hash_map<uint64_t, std::vector<uint64_t>> in_flight_
      ABSL_GUARDED_BY(mutex_);
  int64_t bytes_sent_ ABSL_GUARDED_BY(mutex_) = 0;
  std::thread sender_;
  std::unique_ptr<DelayLine> delay_;  // null without emulation
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_STAGE_LINK_H_
