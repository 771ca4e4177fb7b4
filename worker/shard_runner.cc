#include "worker/shard_runner.h"

#include <time.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "worker/rpc_util.h"

namespace tessera::worker {
namespace {

constexpr size_t kMaxFramesPerBatch = 64;

absl::Duration ThreadCpuTime() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

int64_t MicrosSince(absl::Time start) {
  return absl::ToInt64Microseconds(absl::Now() - start);
}

}  // namespace

ShardRunner::ShardRunner(ShardRunnerConfig config,
                         std::unique_ptr<kernels::Backend> backend,
                         std::unique_ptr<StageLink> next, EventPublisher publish)
    : config_(std::move(config)),
      backend_(std::move(backend)),
      emulation_(config_.emulate_slowdown),
      next_(std::move(next)),
      publish_(std::move(publish)) {
  thread_ = std::thread([this] { Loop(); });
}

ShardRunner::~ShardRunner() {
  {
    absl::MutexLock lock(&mutex_);
    stop_ = true;
  }
  thread_.join();
  next_.reset();
  // Frames that never ran: the sender fails their sessions.
  absl::MutexLock lock(&mutex_);
  const absl::Status unloaded = absl::AbortedError(absl::StrCat(
      "worker ", config_.worker_name,
      ": the shard was unloaded before the frame ran"));
  for (Pending& p : queue_) {
    if (p.acks != nullptr) {
      p.acks->Push(MakeAck(p.frame.sequence(), unloaded, /*refused=*/true));
    }
  }
}

void ShardRunner::Submit(v1::ForwardFrame frame,
                         std::shared_ptr<AckQueue> acks) {
  absl::MutexLock lock(&mutex_);
  queue_.push_back(Pending{std::move(frame), std::move(acks), {}});
}

int ShardRunner::active_sessions() const {
  absl::MutexLock lock(&mutex_);
  return active_sessions_;
}

double ShardRunner::compute_ms_per_row() const {
  absl::MutexLock lock(&mutex_);
  return rows_done_ == 0 ? 0.0 : compute_us_total_ / 1000.0 / rows_done_;
}

std::vector<ShardRunner::Pending> ShardRunner::TakeBatch() {
  std::vector<Pending> batch;
  absl::flat_hash_set<uint64_t> sessions;
  while (!queue_.empty() && batch.size() < kMaxFramesPerBatch) {
    const v1::ForwardFrame& frame = queue_.front().frame;
    bool disjoint = true;
    for (const auto& row : frame.rows()) {
      if (sessions.contains(row.session_id())) disjoint = false;
    }
    for (uint64_t id : frame.release_sessions()) {
      if (sessions.contains(id)) disjoint = false;
    }
    if (!disjoint && !batch.empty()) break;
    for (const auto& row : frame.rows()) sessions.insert(row.session_id());
    for (uint64_t id : frame.release_sessions()) sessions.insert(id);
    const bool releases = frame.release_sessions_size() > 0;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
    // A batch's releases apply after all its rows: later frames' rows (a
    // new session the released KV memory was freed for) wait for the next.
    if (releases) break;
  }
  return batch;
}

void ShardRunner::Loop() {
  absl::Time last_sweep = absl::Now();
  for (;;) {
    std::vector<Pending> pending;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.AwaitWithTimeout(
          absl::Condition(
              +[](ShardRunner* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                   self->mutex_) { return self->stop_ || !self->queue_.empty(); },
              this),
          absl::Seconds(1));
      if (stop_) return;
      pending = TakeBatch();
    }
    if (!pending.empty()) Process(pending);
    if (absl::Now() - last_sweep > absl::Seconds(1)) {
      SweepIdle();
      last_sweep = absl::Now();
    }
  }
}

void ShardRunner::ApplyStarts(const v1::ForwardFrame& frame) {
  for (const v1::SessionStart& start : frame.starts()) {
    SessionState& state = sessions_[start.session_id()];
    state.prompt_tokens = start.prompt_tokens();
    state.last_used = absl::Now();
    const model::SamplingParams params = SamplingFromProto(start.sampling());
    // Invalid parameters leave no sampler: the session's rows then fail.
    state.sampler.reset();
    if (config_.spec.has_head && model::ValidateSamplingParams(params).ok()) {
      state.sampler = std::make_unique<model::Sampler>(params);
    }
  }
}

void ShardRunner::ApplyReleases(const v1::ForwardFrame& frame,
                                v1::ForwardFrame& control) {
  for (uint64_t id : frame.release_sessions()) {
    backend_->ReleaseSession(id).IgnoreError();  // NotFound is fine
    sessions_.erase(id);
    control.add_release_sessions(id);
  }
}

absl::Status ShardRunner::AppendRows(const v1::ForwardFrame& frame,
                                     kernels::Batch& batch) {
  const int64_t n = frame.rows_size();
  for (const v1::FrameRow& row : frame.rows()) {
    auto it = sessions_.find(row.session_id());
    if (it == sessions_.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "session ", row.session_id(), " was never started (or released)"));
    }
    if (config_.spec.has_head && it->second.sampler == nullptr) {
      return absl::InvalidArgumentError(
          "session has no (valid) sampling parameters");
    }
  }
  if (config_.spec.has_embedding) {
    if (frame.has_activations()) {
      return absl::InvalidArgumentError("stage 0 takes tokens, not activations");
    }
  } else {
    if (!frame.has_activations()) {
      return absl::InvalidArgumentError("frame carries no activations");
    }
    // The shape is checked before decoding: a small compressed payload
    // may claim far more rows than the frame carries.
    if (frame.activations().rows() != n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "frame has ", n, " rows but ", frame.activations().rows(),
          " activation rows"));
    }
    absl::StatusOr<std::vector<float>> hidden =
        DecodeActivations(FromProto(frame.activations()), config_.dim);
    if (!hidden.ok()) return hidden.status();
    batch.hidden.insert(batch.hidden.end(), hidden->begin(), hidden->end());
  }
  for (const v1::FrameRow& row : frame.rows()) {
    batch.rows.push_back(kernels::BatchRow{row.session_id(), row.position(),
                                           row.token(), row.want_output()});
    sessions_[row.session_id()].last_used = absl::Now();
  }
  return absl::OkStatus();
}

void ShardRunner::FailFrame(Pending& pending, const absl::Status& status) {
  pending.status = status;
  absl::flat_hash_set<uint64_t> failed;
  for (const auto& row : pending.frame.rows()) {
    if (!failed.insert(row.session_id()).second) continue;
    publish_(SessionErrorEvent(config_.worker_name, row.session_id(), status));
  }
}

absl::StatusOr<std::vector<v1::ForwardFrame>> ShardRunner::SplitBySession(
    const v1::ForwardFrame& frame) const {
  std::vector<float> hidden;
  if (frame.has_activations()) {
    TESSERA_ASSIGN_OR_RETURN(
        hidden, DecodeActivations(FromProto(frame.activations()), config_.dim));
    if (frame.activations().rows() != frame.rows_size()) {
      return absl::InvalidArgumentError("activation rows do not match rows");
    }
  }
  std::vector<v1::ForwardFrame> parts;
  absl::flat_hash_map<uint64_t, size_t> part_of;
  std::vector<std::vector<float>> part_hidden;
  for (int i = 0; i < frame.rows_size(); ++i) {
    const v1::FrameRow& row = frame.rows(i);
    auto [it, added] = part_of.try_emplace(row.session_id(), parts.size());
    if (added) {
      parts.emplace_back();
      *parts.back().mutable_timings() = frame.timings();
      parts.back().set_sequence(frame.sequence());
      part_hidden.emplace_back();
    }
    *parts[it->second].add_rows() = row;
    if (!hidden.empty()) {
      const float* h = hidden.data() + int64_t{i} * config_.dim;
      part_hidden[it->second].insert(part_hidden[it->second].end(), h,
                                     h + config_.dim);
    }
  }
  if (parts.empty()) return parts;
  for (const v1::SessionStart& s : frame.starts()) {
    auto it = part_of.find(s.session_id());
    *parts[it == part_of.end() ? 0 : it->second].add_starts() = s;
  }
  if (frame.has_activations()) {
    for (size_t p = 0; p < parts.size(); ++p) {
      TESSERA_ASSIGN_OR_RETURN(
          EncodedActivations encoded,
          EncodeActivations(part_hidden[p], parts[p].rows_size(), config_.dim,
                            CodecOptions{}));
      ToProto(encoded, parts[p].mutable_activations());
    }
  }
  return parts;
}

void ShardRunner::FailOrSplit(Pending& pending, const absl::Status& status) {
  absl::StatusOr<std::vector<v1::ForwardFrame>> parts =
      SplitBySession(pending.frame);
  if (!parts.ok() || parts->size() <= 1) {
    FailFrame(pending, status);
    return;
  }
  pending.status = absl::OkStatus();
  for (v1::ForwardFrame& part : *parts) {
    Pending one{std::move(part), nullptr, absl::OkStatus()};
    RunFrames({&one});
    if (pending.status.ok()) pending.status = one.status;
  }
}

void ShardRunner::RunFrames(const std::vector<Pending*>& frames) {
  const absl::Time start = absl::Now();
  v1::ForwardFrame carrier;  // rows, starts and timings sent onward
  kernels::Batch batch;
  std::vector<Pending*> included;
  for (Pending* p : frames) {
    const size_t rows_before = batch.rows.size();
    const size_t hidden_before = batch.hidden.size();
    absl::Status status = AppendRows(p->frame, batch);
    if (!status.ok()) {
      batch.rows.resize(rows_before);
      batch.hidden.resize(hidden_before);
      FailOrSplit(*p, status);
      continue;
    }
    if (included.empty()) *carrier.mutable_timings() = p->frame.timings();
    for (const auto& row : p->frame.rows()) *carrier.add_rows() = row;
    for (const auto& s : p->frame.starts()) *carrier.add_starts() = s;
    included.push_back(p);
  }
  if (included.empty()) return;
  absl::Status status = RunBatch(batch, carrier, MicrosSince(start));
  if (status.ok()) return;
  if (included.size() == 1) {
    FailOrSplit(*included[0], status);
    return;
  }
  // Backends change no state on error: retry frame by frame so that only
  // the offending frame's sessions fail.
  for (Pending* p : included) RunFrames({p});
}

void ShardRunner::Process(std::vector<Pending>& pending) {
  v1::ForwardFrame control;  // starts without rows, then releases
  std::vector<Pending*> with_rows;
  for (Pending& p : pending) {
    ApplyStarts(p.frame);
    if (p.frame.rows_size() > 0) {
      with_rows.push_back(&p);
    } else {
      for (const auto& s : p.frame.starts()) *control.add_starts() = s;
    }
  }
  RunFrames(with_rows);
  // Releases apply after the rows they travel with (see worker.proto).
  for (Pending& p : pending) ApplyReleases(p.frame, control);
  if (next_ != nullptr &&
      (control.starts_size() > 0 || control.release_sessions_size() > 0)) {
    next_->Send(std::move(control));  // keeps the later stages in step
  }
  for (Pending& p : pending) {
    if (p.acks != nullptr) p.acks->Push(MakeAck(p.frame.sequence(), p.status));
  }
  absl::MutexLock lock(&mutex_);
  active_sessions_ = static_cast<int>(sessions_.size());
}

void ShardRunner::BeginStep(int64_t rows) {
  absl::MutexLock lock(&mutex_);
  step_started_ = absl::Now();
  step_rows_ = rows;
  ++steps_;
  if (config_.fault_hang_after_steps > 0 &&
      steps_ > config_.fault_hang_after_steps) {
    LOG(WARNING) << config_.worker_name << ": fault injection: compute stalls";
    mutex_.Await(absl::Condition(&stop_));
  }
}

void ShardRunner::EndStep(int64_t rows, int64_t compute_us) {
  absl::MutexLock lock(&mutex_);
  step_started_ = absl::InfinitePast();
  step_rows_ = 0;
  rows_done_ += rows;
  compute_us_total_ += compute_us;
  if (rows > 0) {
    max_us_per_row_ = std::max(max_us_per_row_,
                               static_cast<double>(compute_us) / rows);
  }
}

ShardRunner::BusyStep ShardRunner::busy_step() const {
  absl::MutexLock lock(&mutex_);
  if (step_started_ == absl::InfinitePast()) return {};
  const absl::Duration per_row = max_us_per_row_ > 0
                                     ? absl::Microseconds(max_us_per_row_)
                                     : config_.first_row_guess;
  return {absl::Now() - step_started_,
          config_.hang_base +
              config_.hang_factor * static_cast<double>(step_rows_) * per_row};
}

absl::Status ShardRunner::RunBatch(const kernels::Batch& batch,
                                  v1::ForwardFrame& carrier,
                                  int64_t codec_us) {
  const int64_t rows = static_cast<int64_t>(batch.rows.size());
  BeginStep(rows);
  const absl::Time start = absl::Now();
  const absl::Duration cpu_start = ThreadCpuTime();
  absl::StatusOr<kernels::BatchOutput> out = backend_->Forward(batch);
  if (out.ok() && config_.emulate_slowdown > 1) {
    const absl::Duration compute = config_.compute_on_calling_thread
                                       ? ThreadCpuTime() - cpu_start
                                       : absl::Now() - start;
    absl::SleepFor(emulation_.ExtraTime(rows, compute));
  }
  const int64_t compute_us = MicrosSince(start);
  EndStep(rows, compute_us);
  if (!out.ok()) return out.status();
  if (!config_.spec.has_head) {
    return SendOnward(*out, carrier, compute_us, codec_us);
  }
  v1::StageTiming* t = carrier.add_timings();
  t->set_worker_name(config_.worker_name);
  t->set_compute_us(compute_us);
  t->set_codec_us(codec_us);
  t->set_rows(static_cast<int32_t>(rows));
  EmitTokens(batch, *out, carrier);
  return absl::OkStatus();
}

void ShardRunner::EmitTokens(const kernels::Batch& batch,
                             const kernels::BatchOutput& out,
                             const v1::ForwardFrame& carrier) {
  int64_t output_row = 0;
  for (const kernels::BatchRow& row : batch.rows) {
    SessionState& state = sessions_[row.session_id];
    if (row.position < state.prompt_tokens) state.sampler->Accept(row.token);
    if (!row.want_output) continue;
    if (output_row >= out.num_rows) break;  // backend contract violated
    absl::Span<const float> logits(out.data.data() + output_row * out.row_width,
                                   out.row_width);
    ++output_row;
    v1::WorkerEvent event;
    v1::TokenEvent* token = event.mutable_token();
    token->set_session_id(row.session_id);
    token->set_position(row.position);
    token->set_token(state.sampler->Sample(logits));
    *token->mutable_timings() = carrier.timings();
    publish_(event);
  }
}

absl::Status ShardRunner::SendOnward(const kernels::BatchOutput& out,
                                     v1::ForwardFrame& carrier,
                                     int64_t compute_us, int64_t codec_us) {
  const absl::Time start = absl::Now();
  absl::StatusOr<EncodedActivations> encoded = EncodeActivations(
      out.data, out.num_rows, out.row_width, config_.output_codec);
  if (!encoded.ok()) return encoded.status();
  ToProto(*encoded, carrier.mutable_activations());
  v1::StageTiming* t = carrier.add_timings();
  t->set_worker_name(config_.worker_name);
  t->set_compute_us(compute_us);
  t->set_codec_us(codec_us + MicrosSince(start));
  t->set_wire_bytes(static_cast<int64_t>(encoded->data.size()));
  t->set_rows(static_cast<int32_t>(out.num_rows));
  next_->Send(std::move(carrier));
  return absl::OkStatus();
}

void ShardRunner::SweepIdle() {
  const absl::Time now = absl::Now();
  std::vector<uint64_t> idle;
  for (const auto& [id, state] : sessions_) {
    if (now - state.last_used > config_.idle_timeout) idle.push_back(id);
  }
  for (uint64_t id : idle) {
    backend_->ReleaseSession(id).IgnoreError();
    sessions_.erase(id);
    LOG(INFO) << "worker " << config_.worker_name << ": released idle session "
              << id;
  }
  absl::MutexLock lock(&mutex_);
  active_sessions_ = static_cast<int>(sessions_.size());
}

}  // namespace tessera::worker
