#include "worker/stage_link.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "worker/rpc_util.h"

namespace tessera::worker {

struct StageLink::Stream {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ForwardFrame, v1::ForwardAck>>
      rw;
  std::thread reader;
};

StageLink::StageLink(std::shared_ptr<grpc::Channel> channel, Options options)
    : stub_(v1::WorkerService::NewStub(channel)), options_(std::move(options)) {
  if (options_.emulation.enabled()) {
    delay_ = std::make_unique<DelayLine>(options_.emulation);
  }
  sender_ = std::thread([this] { SenderLoop(); });
}

StageLink::~StageLink() {
  delay_.reset();  // no more deliveries into the queue
  {
    absl::MutexLock lock(&mutex_);
    stop_ = true;
  }
  sender_.join();
  CloseStream(/*report=*/false);
}

void StageLink::Send(v1::ForwardFrame frame) {
  if (delay_ == nullptr) {
    Enqueue(std::move(frame));
    return;
  }
  const auto bytes = static_cast<int64_t>(frame.ByteSizeLong());
  delay_->Push(bytes, [this, frame = std::move(frame)]() mutable {
    Enqueue(std::move(frame));
  });
}

void StageLink::Enqueue(v1::ForwardFrame frame) {
  absl::MutexLock lock(&mutex_);
  queue_.push_back(std::move(frame));
}

int64_t StageLink::bytes_sent() const {
  absl::MutexLock lock(&mutex_);
  return bytes_sent_;
}

bool StageLink::EnsureStream() {
  if (stream_ != nullptr) return true;
  auto stream = std::make_unique<Stream>();
  stream->context = MakeContext(options_.token, absl::InfiniteDuration());
  stream->rw = stub_->Forward(stream->context.get());
  if (stream->rw == nullptr) return false;
  Stream* raw = stream.get();
  stream->reader = std::thread([this, raw] { ReaderLoop(raw); });
  stream_ = std::move(stream);
  return true;
}

void StageLink::ReaderLoop(Stream* stream) {
  v1::ForwardAck ack;
  while (stream->rw->Read(&ack)) {
    std::vector<uint64_t> sessions;
    {
      absl::MutexLock lock(&mutex_);
      auto it = in_flight_.find(ack.sequence());
      if (it == in_flight_.end()) continue;
      sessions = std::move(it->second);
      in_flight_.erase(it);
    }
    if (ack.code() != 0 && ack.refused() && options_.on_refused &&
        !sessions.empty()) {
      options_.on_refused(
          absl::Status(static_cast<absl::StatusCode>(ack.code()),
                       ack.message()),
          sessions);
    }
  }
  // The call is over (a pending Write fails too): wake the sender to close
  // the stream and report what it lost.
  absl::MutexLock lock(&mutex_);
  stream_ended_ = true;
}

void StageLink::CloseStream(bool report) {
  if (stream_ == nullptr) return;
  // A stream closed to report its losses is over already (its reader saw
  // the end, or a write failed and cancelled it) and its status may say
  // why; a healthy one is cancelled here.
  if (!report) stream_->context->TryCancel();
  stream_->reader.join();
  const grpc::Status status = stream_->rw->Finish();
  stream_.reset();
  {
    absl::MutexLock lock(&mutex_);
    stream_ended_ = false;
  }
  const std::vector<uint64_t> lost = TakeInFlight();
  if (!report) return;
  std::string reason = absl::StrCat("stream to ", options_.peer_name,
                                    " is broken");
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    absl::StrAppend(&reason, ": ", status.error_message());
  }
  ReportLost(reason, lost);
}

std::vector<uint64_t> StageLink::TakeInFlight() {
  std::vector<uint64_t> lost;
  absl::MutexLock lock(&mutex_);
  for (const auto& [sequence, sessions] : in_flight_) {
    lost.insert(lost.end(), sessions.begin(), sessions.end());
  }
  in_flight_.clear();
  return lost;
}

void StageLink::ReportLost(const std::string& reason,
                           const std::vector<uint64_t>& lost) {
  if (!lost.empty() && options_.on_broken) {
    options_.on_broken(absl::UnavailableError(reason), lost);
  }
}

void StageLink::MergeTokenFrames(std::deque<v1::ForwardFrame>& queue,
                                 v1::ForwardFrame& out) {
  out = std::move(queue.front());
  queue.pop_front();
  // A frame's releases apply after its rows, so nothing is merged after a
  // release: later rows (of a session its KV memory was freed for) must
  // still run after it.
  while (!queue.empty() && !out.has_activations() &&
         !queue.front().has_activations() &&
         out.release_sessions_size() == 0) {
    v1::ForwardFrame& next = queue.front();
    for (auto& row : next.rows()) *out.add_rows() = row;
    for (auto& start : next.starts()) *out.add_starts() = start;
    for (uint64_t id : next.release_sessions()) out.add_release_sessions(id);
    queue.pop_front();
  }
}

namespace {

// The distinct sessions of a frame's rows and starts.
std::vector<uint64_t> FrameSessions(const v1::ForwardFrame& frame) {
  std::vector<uint64_t> sessions;
  for (const auto& row : frame.rows()) sessions.push_back(row.session_id());
  for (const auto& start : frame.starts()) {
    sessions.push_back(start.session_id());
  }
  std::sort(sessions.begin(), sessions.end());
  sessions.erase(std::unique(sessions.begin(), sessions.end()),
                 sessions.end());
  return sessions;
}

}  // namespace

void StageLink::Write(v1::ForwardFrame frame) {
  const uint64_t sequence = next_sequence_++;
  frame.set_sequence(sequence);
  {
    absl::MutexLock lock(&mutex_);
    in_flight_[sequence] = FrameSessions(frame);
  }
  if (EnsureStream()) {
    if (stream_->rw->Write(frame)) return;
    // The call is over; cancelling it too guarantees that its reader ends.
    stream_->context->TryCancel();
    CloseStream(/*report=*/true);  // this frame and all unacknowledged ones
    return;
  }
  // No stream, so nothing else is in flight: only this frame is lost.
  ReportLost(absl::StrCat("cannot open a stream to ", options_.peer_name),
             TakeInFlight());
}

void StageLink::SenderLoop() {
  for (;;) {
    std::optional<v1::ForwardFrame> frame;
    bool ended;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(
          +[](StageLink* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
            return self->stop_ || self->stream_ended_ ||
                   !self->queue_.empty();
          },
          this));
      if (stop_) return;
      ended = stream_ended_;
      if (!queue_.empty()) {
        frame.emplace();
        MergeTokenFrames(queue_, *frame);
        bytes_sent_ += static_cast<int64_t>(frame->ByteSizeLong());
      }
    }
    // A stream the peer ended: report what it lost before writing more.
    if (ended) CloseStream(/*report=*/true);
    if (frame.has_value()) Write(*std::move(frame));
  }
}

}  // namespace tessera::worker
