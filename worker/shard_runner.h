// ShardRunner: executes a loaded shard for the frames arriving on Forward
// streams. One compute thread takes queued frames, decodes and validates
// them, merges frames of disjoint sessions into one backend batch (so decode
// steps of different sessions that meet here run together), runs the
// backend and then either encodes the hidden states and sends them straight
// to the next stage, or (last stage) samples each session's next token with
// the session's own sampler and publishes a TokenEvent.
//
// A frame that fails (malformed, checksum, backend error) fails only the
// sessions it carries: they get a SessionError event and the frame's ack
// carries the status; other sessions are unaffected. A frame of several
// sessions (merged upstream) that fails once its activations decode is run
// again session by session, so that only the sessions that fail on their
// own (one whose prompt the KV budget cannot hold, say) get an error.
// Sessions are released explicitly (ForwardFrame.release_sessions,
// propagated down the pipeline) or after `idle_timeout` without traffic.
//
// Thread-safety: Submit() and the accessors are thread-safe.
#ifndef TESSERA_WORKER_SHARD_RUNNER_H_
#define TESSERA_WORKER_SHARD_RUNNER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kernels/backend.h"
#include "model/sampler.h"
#include "tessera/v1/worker.pb.h"
#include "worker/activation_codec.h"
#include "worker/compute_emulation.h"
#include "worker/outbound_queue.h"
#include "worker/stage_link.h"

namespace tessera::worker {

using AckQueue = OutboundQueue<v1::ForwardAck>;
using EventPublisher = std::function<void(const v1::WorkerEvent&)>;

struct ShardRunnerConfig {
  std::string worker_name;
  kernels::ShardSpec spec;
  int64_t dim = 0;
  int64_t vocab_size = 0;
  CodecOptions output_codec;
  absl::Duration idle_timeout = absl::Seconds(60);
  // >= 1: each batch takes this many times its measured compute time (the
  // rest is slept; host hiccups are capped, see ComputeEmulation), emulating
  // a slower device. Reported timings include it.
  double emulate_slowdown = 1;
  // The backend computes on the calling thread only (cpu or reference with
  // one thread): the emulation then measures compute as that thread's CPU
  // time, which other processes on a shared host do not inflate.
  bool compute_on_calling_thread = false;
  // A step's budget before it counts as hung (busy_step()): hang_base plus
  // hang_factor x its rows x the slowest time per row seen so far
  // (first_row_guess before any step finished).
  absl::Duration hang_base = absl::Milliseconds(2500);
  double hang_factor = 10;
  absl::Duration first_row_guess = absl::Seconds(1);
  // Fault injection for tests (tessera-worker --fault-hang-after-steps):
  // > 0 makes the compute thread stall, until shutdown, in that step.
  int64_t fault_hang_after_steps = 0;
};

class ShardRunner {
 public:
  // `next` is null on the last stage (REQUIRES: spec.has_head then).
  // `publish` receives token and error events (called on the compute thread).
  ShardRunner(ShardRunnerConfig config,
              std::unique_ptr<kernels::Backend> backend,
              std::unique_ptr<StageLink> next, EventPublisher publish);
  // Stops after the batch running now; frames still queued are acknowledged
  // as refused (ForwardAck.refused), so their senders fail the sessions.
  ~ShardRunner();

  // Queues a frame; its ack goes to `acks` (may be null). Never blocks.
  void Submit(v1::ForwardFrame frame, std::shared_ptr<AckQueue> acks);

  int active_sessions() const;
  // The step running now: how long it has run and its budget (both zero
  // when idle). See ShardRunnerConfig::hang_base.
  struct BusyStep {
    absl::Duration running;
    absl::Duration budget;
  };
  BusyStep busy_step() const;
  // Mean backend time per row so far, in milliseconds (0 before any).
  double compute_ms_per_row() const;
  const ShardRunnerConfig& config() const { return config_; }

 private:
  struct Pending {
    v1::ForwardFrame frame;
    std::shared_ptr<AckQueue> acks;
    absl::Status status;  // set while processing
  };
  struct SessionState {
    std::unique_ptr<model::Sampler> sampler;  // last stage only
    int32_t prompt_tokens = 0;
    absl::Time last_used;
  };

  void Loop();
  std::vector<Pending> TakeBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Process(std::vector<Pending>& pending);
  // Decodes `frames` into one batch, runs it and sends or samples; frames
  // that fail get SessionErrors (a failed batch is retried frame by frame).
  void RunFrames(const std::vector<Pending*>& frames);
  void ApplyStarts(const v1::ForwardFrame& frame);
  void ApplyReleases(const v1::ForwardFrame& frame, v1::ForwardFrame& control);
  absl::Status AppendRows(const v1::ForwardFrame& frame, kernels::Batch& batch);
  // Runs the backend over `batch`, then sends onward or samples.
  absl::Status RunBatch(const kernels::Batch& batch, v1::ForwardFrame& carrier,
                        int64_t codec_us);
  // Marks a step of `rows` as running (and stalls for fault injection).
  void BeginStep(int64_t rows);
  void EndStep(int64_t rows, int64_t compute_us);
  void EmitTokens(const kernels::Batch& batch, const kernels::BatchOutput& out,
                  const v1::ForwardFrame& carrier);
  absl::Status SendOnward(const kernels::BatchOutput& out,
                          v1::ForwardFrame& carrier, int64_t compute_us,
                          int64_t codec_us);
  void FailFrame(Pending& pending, const absl::Status& status);
  // `pending` failed with `status`: fails it when it carries one session or
  // its activations do not decode, else runs it again session by session.
  void FailOrSplit(Pending& pending, const absl::Status& status);
  // The frame's rows as one frame per session, in order of first row, with
  // the session's starts (starts of sessions without rows go with the first
  // part) and its activation rows re-encoded losslessly (f32).
  absl::StatusOr<std::vector<v1::ForwardFrame>> SplitBySession(
      const v1::ForwardFrame& frame) const;
  void SweepIdle();

  const ShardRunnerConfig config_;
  std::unique_ptr<kernels::Backend> backend_;   // compute thread only
  ComputeEmulation emulation_;                  // compute thread only
  std::unique_ptr<StageLink> next_;
  EventPublisher publish_;
  absl::flat_hash_map<uint64_t, SessionState> sessions_;  // compute thread

  mutable absl::Mutex mutex_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mutex_);
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  int active_sessions_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t rows_done_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t compute_us_total_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t steps_ ABSL_GUARDED_BY(mutex_) = 0;
  absl::Time step_started_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  int64_t step_rows_ ABSL_GUARDED_BY(mutex_) = 0;
  double max_us_per_row_ ABSL_GUARDED_BY(mutex_) = 0;
  std::thread thread_;
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_SHARD_RUNNER_H_
