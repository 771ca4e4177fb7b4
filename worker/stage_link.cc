#include "worker/stage_link.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "worker/rpc_util.h"

namespace tessera::worker {

struct StageLink::Stream {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ForwardFrame, v1::ForwardAck>>
      rw;
  std::thread reader;
  std::atomic<bool> broken{false};
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
  CloseStream();
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
  if (stream_ != nullptr && !stream_->broken) return true;
  CloseStream();
  auto stream = std::make_unique<Stream>();
  stream->context = MakeContext(options_.token, absl::InfiniteDuration());
  stream->rw = stub_->Forward(stream->context.get());
  if (stream->rw == nullptr) return false;
  Stream* raw = stream.get();
  stream->reader = std::thread([this, raw] {
    v1::ForwardAck ack;
    while (raw->rw->Read(&ack)) {
      if (ack.code() != 0 && options_.on_ack_error) options_.on_ack_error(ack);
    }
    raw->broken = true;
    raw->context->TryCancel();  // unblocks a pending Write
  });
  stream_ = std::move(stream);
  return true;
}

void StageLink::CloseStream() {
  if (stream_ == nullptr) return;
  stream_->context->TryCancel();
  stream_->reader.join();
  grpc::Status status = stream_->rw->Finish();
  stream_.reset();
}

void StageLink::MergeTokenFrames(std::deque<v1::ForwardFrame>& queue,
                                 v1::ForwardFrame& out) {
  out = std::move(queue.front());
  queue.pop_front();
  while (!queue.empty() && !out.has_activations() &&
         !queue.front().has_activations()) {
    v1::ForwardFrame& next = queue.front();
    for (auto& row : next.rows()) *out.add_rows() = row;
    for (auto& start : next.starts()) *out.add_starts() = start;
    for (uint64_t id : next.release_sessions()) out.add_release_sessions(id);
    queue.pop_front();
  }
}

void StageLink::SenderLoop() {
  for (;;) {
    v1::ForwardFrame frame;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(
          +[](StageLink* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
            return self->stop_ || !self->queue_.empty();
          },
          this));
      if (stop_) return;
      MergeTokenFrames(queue_, frame);
      bytes_sent_ += static_cast<int64_t>(frame.ByteSizeLong());
    }
    if (!EnsureStream() || !stream_->rw->Write(frame)) {
      if (stream_ != nullptr) stream_->broken = true;
      if (options_.on_broken) {
        options_.on_broken(absl::UnavailableError(absl::StrCat(
            "stream to ", options_.peer_name, " is broken")), frame);
      }
    }
  }
}

}  // namespace tessera::worker
