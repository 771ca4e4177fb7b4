#include "coordinator/generation_request.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "worker/rpc_util.h"

namespace tessera::coordinator {

GenerationRequest::GenerationRequest(uint64_t session_id,
                                     const model::Tokenizer& tokenizer,
                                     std::vector<int32_t> prompt,
                                     const v1::GenerateRequest& params,
                                     int64_t max_tokens,
                                     std::shared_ptr<ResponseQueue> responses)
    : session_id_(session_id),
      tokenizer_(tokenizer),
      prompt_(std::move(prompt)),
      params_(params),
      max_tokens_(max_tokens),
      responses_(std::move(responses)),
      decoder_(tokenizer),
      expected_position_(static_cast<int32_t>(prompt_.size()) - 1),
      start_(absl::Now()) {}

v1::ForwardFrame GenerationRequest::StartFrame() const {
  v1::ForwardFrame frame;
  v1::SessionStart* start = frame.add_starts();
  start->set_session_id(session_id_);
  // Explicit values: every stage agrees on the defaults.
  *start->mutable_sampling() =
      worker::SamplingToProto(worker::SamplingFromProto(params_.sampling()));
  start->set_prompt_tokens(static_cast<int32_t>(prompt_.size()));
  for (size_t i = 0; i < prompt_.size(); ++i) {
    v1::FrameRow* row = frame.add_rows();
    row->set_session_id(session_id_);
    row->set_position(static_cast<int32_t>(i));
    row->set_token(prompt_[i]);
    row->set_want_output(i + 1 == prompt_.size());
  }
  return frame;
}

void GenerationRequest::AddTimings(const v1::TokenEvent& event) {
  if (generated_.empty()) return;  // the prefill step is not per token
  for (const v1::StageTiming& t : event.timings()) {
    if (!stage_sums_.contains(t.worker_name())) {
      stage_order_.push_back(t.worker_name());
    }
    StageSums& sums = stage_sums_[t.worker_name()];
    sums.compute_us += t.compute_us();
    sums.codec_us += t.codec_us();
    sums.wire_bytes += t.wire_bytes() / std::max(t.rows(), 1);  // our share
    ++sums.samples;
  }
}

std::optional<v1::ForwardFrame> GenerationRequest::OnToken(
    const v1::TokenEvent& event) {
  if (done_ || event.position() != expected_position_) return std::nullopt;
  AddTimings(event);
  if (generated_.empty()) first_token_ = absl::Now();
  const int32_t token = event.token();
  if (tokenizer_.IsEndOfGeneration(token)) {
    Finish(v1::FINISH_REASON_END_OF_GENERATION);
    return std::nullopt;
  }
  generated_.push_back(token);
  v1::GenerateResponse delta;
  delta.set_text(decoder_.Push(token));
  delta.add_token_ids(token);
  responses_->Push(std::move(delta));
  const int64_t length = static_cast<int64_t>(prompt_.size() + generated_.size());
  if (static_cast<int64_t>(generated_.size()) >= params_.max_new_tokens()) {
    Finish(v1::FINISH_REASON_LENGTH);
    return std::nullopt;
  }
  if (length > max_tokens_) {  // the next row would not fit
    Finish(v1::FINISH_REASON_CONTEXT_FULL);
    return std::nullopt;
  }
  ++expected_position_;
  v1::ForwardFrame frame;
  v1::FrameRow* row = frame.add_rows();
  row->set_session_id(session_id_);
  row->set_position(expected_position_);
  row->set_token(token);
  row->set_want_output(true);
  return frame;
}

void GenerationRequest::Finish(v1::FinishReason reason) {
  done_ = true;
  v1::GenerateResponse last;
  last.set_text(decoder_.Flush());
  last.set_finish_reason(reason);
  last.mutable_usage()->set_prompt_tokens(static_cast<int32_t>(prompt_.size()));
  last.mutable_usage()->set_generated_tokens(
      static_cast<int32_t>(generated_.size()));
  for (const std::string& name : stage_order_) {
    const StageSums& s = stage_sums_[name];
    v1::StageStats* stats = last.add_stages();
    stats->set_worker_name(name);
    stats->set_compute_ms_per_token(s.compute_us / 1000.0 / s.samples);
    stats->set_codec_ms_per_token(s.codec_us / 1000.0 / s.samples);
    stats->set_wire_bytes(s.wire_bytes);
  }
  if (!generated_.empty()) {
    last.set_time_to_first_token_ms(
        absl::ToDoubleMilliseconds(first_token_ - start_));
    const double decode_s = absl::ToDoubleSeconds(absl::Now() - first_token_);
    if (generated_.size() > 1 && decode_s > 0) {
      last.set_decode_tokens_per_second((generated_.size() - 1) / decode_s);
    }
  }
  responses_->Push(std::move(last));
  responses_->Finish(grpc::Status::OK);
}

void GenerationRequest::Fail(const absl::Status& status) {
  if (done_) return;
  done_ = true;
  responses_->Finish(worker::ToGrpc(status));
}

}  // namespace tessera::coordinator
