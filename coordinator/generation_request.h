// GenerationRequest: the coordinator's state of one Generate call, one
// pipeline session. It builds the prompt frame for stage 0, turns each token
// sampled by the last stage into streamed text (whole UTF-8 characters),
// decides when to stop (length, end of generation, full context) and builds
// the next decode frame. Stop rules match model::Generate, so a distributed
// greedy run reproduces a local one token for token.
//
// Thread-compatible: the coordinator serialises calls under its mutex.
#ifndef TESSERA_COORDINATOR_GENERATION_REQUEST_H_
#define TESSERA_COORDINATOR_GENERATION_REQUEST_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "model/tokenizer.h"
#include "tessera/v1/coordinator.pb.h"
#include "tessera/v1/worker.pb.h"
#include "worker/outbound_queue.h"

namespace tessera::coordinator {

using ResponseQueue = worker::OutboundQueue<v1::GenerateResponse>;

class GenerationRequest {
 public:
  // REQUIRES: !prompt.empty(), prompt.size() < max_tokens; `tokenizer`
  // outlives the request.
  GenerationRequest(uint64_t session_id, const model::Tokenizer& tokenizer,
                    std::vector<int32_t> prompt,
                    const v1::GenerateRequest& params, int64_t max_tokens,
                    std::shared_ptr<ResponseQueue> responses);

  uint64_t session_id() const { return session_id_; }
  bool done() const { return done_; }
  int64_t generated_tokens() const {
    return static_cast<int64_t>(generated_.size());
  }

  // The prefill frame: SessionStart plus one row per prompt token, logits
  // wanted for the last one.
  v1::ForwardFrame StartFrame() const;

  // Handles a token sampled for this session. Returns the next decode frame,
  // or nullopt when the request has finished (or the event is stale).
  std::optional<v1::ForwardFrame> OnToken(const v1::TokenEvent& event);

  // Ends the call with `status` (no-op when done).
  void Fail(const absl::Status& status);

 private:
  void Finish(v1::FinishReason reason);
  void AddTimings(const v1::TokenEvent& event);

  const uint64_t session_id_;
  const model::Tokenizer& tokenizer_;
  const std::vector<int32_t> prompt_;
  const v1::GenerateRequest params_;
  const int64_t max_tokens_;
  std::shared_ptr<ResponseQueue> responses_;
  model::IncrementalDecoder decoder_;
  std::vector<int32_t> generated_;
  int32_t expected_position_;  // position whose logits come next
  bool done_ = false;
  absl::Time start_;
  absl::Time first_token_;
  struct StageSums {
    int64_t compute_us = 0, codec_us = 0, wire_bytes = 0, samples = 0;
  };
  std::map<std::string, StageSums> stage_sums_;  // decode steps only
  std::vector<std::string> stage_order_;
};

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_GENERATION_REQUEST_H_
