#include "coordinator/bench_cluster.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "tessera/v1/worker.grpc.pb.h"
#include "worker/rpc_util.h"

namespace tessera::coordinator {

int64_t GenerateResult::decode_steps() const {
  // The coordinator adds stage timings for every token event after the
  // first one; an end-of-generation token has an event but is not counted
  // in generated_tokens.
  const int64_t steps =
      generated_tokens - 1 +
      (finish_reason == v1::FINISH_REASON_END_OF_GENERATION ? 1 : 0);
  return std::max<int64_t>(steps, 0);
}

double GenerateResult::wire_bytes_per_token() const {
  const int64_t steps = decode_steps();
  if (steps == 0) return 0;
  int64_t bytes = 0;
  for (const v1::StageStats& s : stages) bytes += s.wire_bytes();
  return static_cast<double>(bytes) / steps;
}

double GenerateResult::stage_us_per_token() const {
  double ms = 0;
  for (const v1::StageStats& s : stages) ms += s.compute_ms_per_token();
  return ms * 1000;
}

double GenerateResult::codec_us_per_token() const {
  double ms = 0;
  for (const v1::StageStats& s : stages) ms += s.codec_ms_per_token();
  return ms * 1000;
}

double GenerateResult::step_overhead_us() const {
  if (decode_tok_s <= 0 || stages.empty()) return 0;
  return 1e6 / decode_tok_s - stage_us_per_token() - codec_us_per_token();
}

double ConcurrentResult::aggregate_tok_s() const {
  const double seconds = absl::ToDoubleSeconds(wall);
  return seconds > 0 ? generated_tokens / seconds : 0;
}

BenchClient::BenchClient(const std::string& coordinator_address,
                         std::string token, absl::Duration timeout)
    : stub_(v1::CoordinatorService::NewStub(worker::MakeChannel(
          coordinator_address, grpc::InsecureChannelCredentials()))),
      token_(std::move(token)),
      timeout_(timeout) {}

absl::StatusOr<GenerateResult> BenchClient::Generate(const std::string& prompt,
                                                     int max_new_tokens) const {
  v1::GenerateRequest request;
  request.set_prompt(prompt);
  request.set_max_new_tokens(max_new_tokens);  // default sampling: greedy
  auto context = worker::MakeContext(token_, timeout_);
  const absl::Time start = absl::Now();
  auto reader = stub_->Generate(context.get(), request);
  v1::GenerateResponse response, last;
  bool finished = false;
  while (reader->Read(&response)) {
    if (response.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      last = response;
      finished = true;
    }
  }
  TESSERA_RETURN_IF_ERROR_CTX(worker::ToAbsl(reader->Finish()), "generate");
  if (!finished) {
    return absl::InternalError("generate: the stream ended without a finish");
  }
  GenerateResult r;
  r.wall = absl::Now() - start;
  r.prompt_tokens = last.usage().prompt_tokens();
  r.generated_tokens = last.usage().generated_tokens();
  r.finish_reason = last.finish_reason();
  r.time_to_first_token_ms = last.time_to_first_token_ms();
  r.decode_tok_s = last.decode_tokens_per_second();
  r.stages.assign(last.stages().begin(), last.stages().end());
  return r;
}

absl::StatusOr<ConcurrentResult> BenchClient::GenerateConcurrently(
    const std::vector<std::string>& prompts, int max_new_tokens) const {
  std::vector<absl::StatusOr<GenerateResult>> results(
      prompts.size(), absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < prompts.size(); ++i) {
    threads.emplace_back(
        [&, i] { results[i] = Generate(prompts[i], max_new_tokens); });
  }
  for (std::thread& t : threads) t.join();
  ConcurrentResult c;
  c.wall = absl::Now() - start;
  c.requests = static_cast<int>(prompts.size());
  for (absl::StatusOr<GenerateResult>& r : results) {
    if (!r.ok()) return r.status();
    c.generated_tokens += r->generated_tokens;
    c.calls.push_back(*std::move(r));
  }
  return c;
}

absl::StatusOr<HopFigures> MeasureHop(const std::string& from,
                                      const std::string& to,
                                      const std::string& token, int round_trips,
                                      int64_t payload_bytes) {
  auto stub = v1::WorkerService::NewStub(
      worker::MakeChannel(from, grpc::InsecureChannelCredentials()));
  v1::MeasureLinkRequest request;
  request.set_peer_address(to);
  request.set_round_trips(round_trips);
  request.set_payload_bytes(payload_bytes);
  v1::MeasureLinkResponse response;
  auto context = worker::MakeContext(token, absl::Seconds(60));
  TESSERA_RETURN_IF_ERROR_CTX(
      worker::ToAbsl(stub->MeasureLink(context.get(), request, &response)),
      absl::StrCat("measure link ", from, " -> ", to));
  HopFigures hop;
  hop.round_trip_us = response.latency_us();
  hop.one_way_us = hop.round_trip_us / 2;
  hop.bytes_per_second = response.bytes_per_second();
  return hop;
}

namespace {

// Common words that SentencePiece and BPE vocabularies mostly hold as
// single tokens, so that word counts map closely to token counts.
constexpr const char* kWords[] = {
    "the",  "cat",   "sat",  "on",   "a",     "mat",    "and",   "looked",
    "at",   "big",   "red",  "ball", "in",    "garden", "while", "sun",
    "was",  "warm",  "dog",  "ran",  "to",    "tree",   "with",  "small",
    "bird", "that",  "sang", "song", "about", "day",    "when",  "little",
    "girl", "found", "box",  "of",   "old",   "toys",   "under", "bed"};

std::string Words(int64_t count, uint64_t seed) {
  std::string text;
  uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  constexpr uint64_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);
  for (int64_t i = 0; i < count; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    if (i > 0) text += ' ';
    text += kWords[(state >> 33) % kNumWords];
  }
  return text;
}

// Appends words while one takes `text` closer to `tokens` tokens without
// passing it (a word that is several tokens can leave a gap otherwise).
std::string FillTo(const model::Tokenizer& tokenizer, std::string text,
                   int64_t tokens) {
  auto count = [&](const std::string& t) {
    return static_cast<int64_t>(
        tokenizer.Encode(t, tokenizer.add_bos_default()).size());
  };
  int64_t have = count(text);
  while (have < tokens) {
    std::string best;
    int64_t best_count = have;
    for (const char* word : kWords) {
      const std::string candidate = absl::StrCat(text, " ", word);
      const int64_t n = count(candidate);
      if (n > best_count && n <= tokens) {
        best = candidate;
        best_count = n;
      }
    }
    if (best.empty()) break;
    text = std::move(best);
    have = best_count;
  }
  return text;
}

}  // namespace

absl::StatusOr<std::string> PromptOfTokens(const model::Tokenizer& tokenizer,
                                           int64_t tokens, uint64_t seed) {
  if (tokens < 2) {
    return absl::InvalidArgumentError("a prompt needs at least 2 tokens");
  }
  auto count = [&](int64_t words) {
    return static_cast<int64_t>(
        tokenizer.Encode(Words(words, seed), tokenizer.add_bos_default())
            .size());
  };
  // Every word is at least one token: the answer lies in [1, tokens].
  int64_t lo = 1, hi = tokens;
  if (count(lo) > tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("no prompt of at most ", tokens, " tokens"));
  }
  while (lo < hi) {  // largest word count whose text fits
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (count(mid) <= tokens) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return FillTo(tokenizer, Words(lo, seed), tokens);
}

}  // namespace tessera::coordinator
