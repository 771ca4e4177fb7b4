// `tessera bench`: measures, in one run, this machine's memory read
// bandwidth and the decode and prefill speed of a real model shape
// (default tinyllama-1.1b) at Q8_0 and Q4_0 (optionally F16) on a backend,
// with random weights generated in memory in the execution format (no
// file). Each decode figure is also given as a fraction of the bandwidth
// roofline: tokens/s x weight bytes read per token / the bandwidth measured
// just around that decode round ("roofline"), and / the best bandwidth any
// measurement of the run saw ("of best"). Every decode round decodes the
// same positions, right after the prompt, in a session of its own (the
// prompt's prefill is not timed), so rounds differ only in what the machine
// around them does: attention's cost grows with the context, and rounds
// that each went on from the last would time ever longer contexts.
//
// --compare BACKEND loads the same weights on a second backend and runs its
// decode rounds alternately with the first one's, each between its own
// bandwidth measurements, and reports the median ratio of the two rates
// over the rounds: adjacent rounds meet nearly the same memory bus, so the
// ratio holds still on a machine whose bus speed changes under load.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/args.h"
#include "cli/command.h"
#include "common/large_pages.h"
#include "common/status_macros.h"
#include "kernels/backend.h"
#include "kernels/synthetic_weights.h"
#include "kernels/thread_pool.h"
#include "kernels/x86_intrinsics.h"  // ReadLines with AVX-512
#include "model/model_shapes.h"

namespace tessera::cli {
namespace {

using model::GgmlType;

struct FormatFigures {
  GgmlType format;
  int64_t weight_bytes_per_token = 0;
  // The decode round with the median roofline fraction (see TimeDecode).
  double decode_tok_s = 0;
  double decode_bandwidth_gbps = 0;  // measured around that round
  double decode_roofline_fraction = 0;
  double prefill_tok_s = 0;
  // Share of the weights in 2 MiB pages (large_pages.h); -1 if unknown.
  double huge_page_fraction = -1;
  // With --compare: the second backend's median decode and best prefill
  // rates, and the median over rounds of decode_tok_s / its rate.
  double compare_decode_tok_s = 0;
  double compare_prefill_tok_s = 0;
  double decode_ratio = 0;
};

// Sums `words` 64-byte lines so the loads cannot be optimised away.
uint64_t ReadLines(const uint64_t* data, int64_t words) {
#if defined(__AVX512F__)
  __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
  for (int64_t i = 0; i + 32 <= words; i += 32) {
    a = _mm512_xor_si512(a, _mm512_load_si512(data + i));
    b = _mm512_xor_si512(b, _mm512_load_si512(data + i + 8));
    c = _mm512_xor_si512(c, _mm512_load_si512(data + i + 16));
    d = _mm512_xor_si512(d, _mm512_load_si512(data + i + 24));
  }
  return _mm512_reduce_or_epi64(
      _mm512_xor_si512(_mm512_xor_si512(a, b), _mm512_xor_si512(c, d)));
#else
  uint64_t acc[8] = {};
  for (int64_t i = 0; i + 8 <= words; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] ^= data[i + j];
  }
  uint64_t r = 0;
  for (uint64_t v : acc) r ^= v;
  return r;
#endif
}

// Best of `repeats` parallel reads of a `bytes` buffer, in GB/s. Each part
// waits until every part has started, so the parts run on distinct threads
// at the same time; the figure is all bytes over the span from the first
// start to the last finish.
class BandwidthProbe {
 public:
  BandwidthProbe(kernels::ThreadPool& pool, int64_t bytes)
      : pool_(pool), words_(bytes / 8 / 64 * 64) {
    data_ = static_cast<uint64_t*>(std::aligned_alloc(64, words_ * 8));
    for (int64_t i = 0; i < words_; ++i) {
      data_[i] = static_cast<uint64_t>(i) * 0x9e3779b9;
    }
  }
  ~BandwidthProbe() { std::free(data_); }
  BandwidthProbe(const BandwidthProbe&) = delete;
  BandwidthProbe& operator=(const BandwidthProbe&) = delete;

  // Best of `repeats` reads of the buffer, in GB/s.
  double Measure(int repeats);
  double best() const { return best_; }  // of every Measure so far

 private:
  kernels::ThreadPool& pool_;
  const int64_t words_;
  uint64_t* data_;
  double best_ = 0;
};

double BandwidthProbe::Measure(int repeats) {
  const int threads = pool_.num_threads();
  const int64_t share = words_ / threads / 64 * 64;
  std::vector<uint64_t> sink(threads);
  std::vector<absl::Time> start(threads), end(threads);
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    std::atomic<int> started{0};
    pool_.Run([&](int part) {
      started.fetch_add(1);
      const absl::Time give_up = absl::Now() + absl::Seconds(1);
      while (started.load() < threads && absl::Now() < give_up) {
      }
      start[part] = absl::Now();
      sink[part] ^= ReadLines(data_ + part * share, share);
      end[part] = absl::Now();
    });
    const absl::Duration span = *std::max_element(end.begin(), end.end()) -
                                *std::min_element(start.begin(), start.end());
    best = std::max(best, static_cast<double>(share * threads * 8) /
                              absl::ToDoubleSeconds(span) / 1e9);
  }
  if (sink[0] == 42) best += 1e-12;  // keeps `sink` observable
  best_ = std::max(best_, best);
  return best;
}

// Bytes a decode step reads: every layer matrix and the output matrix (the
// embedding contributes one row).
int64_t WeightBytesPerToken(const model::ModelWeights& w) {
  int64_t bytes = w.output.bytes + w.token_embd.row_bytes();
  for (const model::LayerWeights& l : w.layers) {
    for (const model::TensorView* m :
         {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down,
          &l.attn_norm, &l.ffn_norm}) {
      bytes += m->bytes;
    }
  }
  return bytes;
}

kernels::Batch Tokens(uint64_t session, int32_t position,
                      const std::vector<int32_t>& tokens) {
  kernels::Batch b;
  for (size_t i = 0; i < tokens.size(); ++i) {
    b.rows.push_back({session, position + static_cast<int32_t>(i), tokens[i],
                      i + 1 == tokens.size()});
  }
  return b;
}

int32_t Argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// One backend's decode: its session, the next position and token, and its
// rounds.
struct DecodeLane {
  struct Round {
    double tok_s, gbps, fraction;
  };
  std::unique_ptr<kernels::Backend> backend;
  std::string label;  // printed with each round when lanes alternate
  uint64_t session = 1;
  int32_t position = 0;
  int32_t token = 0;
  double prefill_tok_s = 0;
  std::vector<Round> rounds;

  // The round with the median roofline fraction.
  Round Median() const {
    std::vector<Round> sorted = rounds;
    std::sort(sorted.begin(), sorted.end(), [](const Round& a, const Round& b) {
      return a.fraction < b.fraction;
    });
    return sorted[sorted.size() / 2];
  }
};

// Prefills `prompt` from position 0 of the lane's session (restarting it),
// leaving the lane ready to decode the positions after it; returns the time
// the prefill took.
absl::StatusOr<absl::Duration> Prefill(const std::vector<int32_t>& prompt,
                                       DecodeLane& lane) {
  const absl::Time start = absl::Now();
  TESSERA_ASSIGN_OR_RETURN(
      kernels::BatchOutput out,
      lane.backend->Forward(Tokens(lane.session, 0, prompt)));
  const absl::Duration took = absl::Now() - start;
  lane.position = static_cast<int32_t>(prompt.size());
  lane.token = Argmax(out.data);
  return took;
}

// Best-of-`repeats` prefill of `prompt`.
absl::Status TimePrefill(const std::vector<int32_t>& prompt, int repeats,
                         DecodeLane& lane) {
  absl::Duration best = absl::InfiniteDuration();
  for (int r = 0; r < repeats; ++r) {
    TESSERA_ASSIGN_OR_RETURN(const absl::Duration took, Prefill(prompt, lane));
    best = std::min(best, took);
  }
  lane.prefill_tok_s = prompt.size() / absl::ToDoubleSeconds(best);
  return absl::OkStatus();
}

// Ends the lane's session and prefills `prompt` in a new one.
absl::Status StartSession(const std::vector<int32_t>& prompt,
                          DecodeLane& lane) {
  TESSERA_RETURN_IF_ERROR(lane.backend->ReleaseSession(lane.session));
  ++lane.session;
  return Prefill(prompt, lane).status();
}

// `steps` greedy decode steps of the lane's session.
absl::Status DecodeSteps(int64_t steps, DecodeLane& lane) {
  for (int64_t i = 0; i < steps; ++i) {
    TESSERA_ASSIGN_OR_RETURN(kernels::BatchOutput out,
                             lane.backend->Forward(Tokens(
                                 lane.session, lane.position++, {lane.token})));
    lane.token = Argmax(out.data);
  }
  return absl::OkStatus();
}

// Decode rounds of `decode_tokens` greedy steps after `prompt`, each in a
// new session and bracketed by bandwidth measurements: on a shared machine
// the memory bus a decode round meets changes from one second to the next
// (neighbours), so each round's roofline is the higher of the bandwidths
// read just before and just after it. With several lanes, round r of every
// lane runs before round r + 1 of any. An untimed round per lane goes
// first: it pays what only a first round would (KV pages faulted in, an
// OpenCL driver compiling kernels at their first launch).
absl::Status TimeDecode(const std::vector<int32_t>& prompt,
                        int64_t decode_tokens, int rounds,
                        BandwidthProbe& probe, const FormatFigures& f,
                        std::vector<DecodeLane>& lanes) {
  for (DecodeLane& lane : lanes) {
    TESSERA_RETURN_IF_ERROR(StartSession(prompt, lane));
    TESSERA_RETURN_IF_ERROR(DecodeSteps(decode_tokens, lane));
  }
  for (int r = 0; r < rounds; ++r) {
    for (DecodeLane& lane : lanes) {
      TESSERA_RETURN_IF_ERROR(StartSession(prompt, lane));
      const double before = probe.Measure(3);
      const absl::Time start = absl::Now();
      TESSERA_RETURN_IF_ERROR(DecodeSteps(decode_tokens, lane));
      const double tok_s =
          decode_tokens / absl::ToDoubleSeconds(absl::Now() - start);
      const double gbps = std::max(before, probe.Measure(3));
      lane.rounds.push_back(
          {tok_s, gbps, tok_s * f.weight_bytes_per_token / (gbps * 1e9)});
      std::cerr << absl::StrFormat(
          "  %s decode round %d%s: %.2f tok/s at %.1f GB/s = %.1f%%\n",
          model::TypeName(f.format), r + 1, lane.label, tok_s, gbps,
          100 * lane.rounds.back().fraction);
    }
  }
  return absl::OkStatus();
}

// Median over rounds of a's decode rate over b's in the same round.
double MedianRatio(const DecodeLane& a, const DecodeLane& b) {
  std::vector<double> ratios;
  for (size_t r = 0; r < a.rounds.size() && r < b.rounds.size(); ++r) {
    ratios.push_back(a.rounds[r].tok_s / b.rounds[r].tok_s);
  }
  std::sort(ratios.begin(), ratios.end());
  return ratios.empty() ? 0 : ratios[ratios.size() / 2];
}

// Loads the full-model shard of `weights` in `format` on a new backend.
absl::StatusOr<std::unique_ptr<kernels::Backend>> LoadBackend(
    const ArgParser& args, const std::string& spec,
    const model::ModelConfig& config, GgmlType format,
    const model::ModelWeights& weights) {
  kernels::BackendOptions options;
  options.threads = static_cast<int>(args.GetInt("threads"));
  options.kv_budget_bytes = int64_t{1} << 30;
  TESSERA_ASSIGN_OR_RETURN(options.kv_type,
                           kernels::ParseKvType(args.GetString("kv-type")));
  TESSERA_ASSIGN_OR_RETURN(auto backend, kernels::CreateBackend(spec, options));
  kernels::ShardSpec shard;
  shard.end_layer = config.n_layers;
  shard.has_embedding = shard.has_head = true;
  shard.layer_formats.assign(config.n_layers, format);
  shard.head_format = format;
  TESSERA_RETURN_IF_ERROR(backend->LoadShard(weights, shard).status());
  return backend;
}

absl::StatusOr<FormatFigures> BenchFormat(const ArgParser& args,
                                          const model::ModelConfig& config,
                                          GgmlType format,
                                          kernels::ThreadPool& pool,
                                          BandwidthProbe& probe) {
  kernels::SyntheticOptions synth;
  synth.matrix_type = format;
  synth.embedding_type = format;
  synth.seed = static_cast<uint64_t>(args.GetInt("seed"));
  const absl::StatusOr<size_t> huge_before = ProcessHugePageBytes();
  TESSERA_ASSIGN_OR_RETURN(auto model,
                           kernels::MakeSyntheticModel(config, synth, &pool));
  const absl::StatusOr<size_t> huge_after = ProcessHugePageBytes();
  std::vector<std::string> specs = {args.GetString("backend")};
  if (!args.GetString("compare").empty()) {
    specs.push_back(args.GetString("compare"));
  }
  std::vector<DecodeLane> lanes(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    TESSERA_ASSIGN_OR_RETURN(
        lanes[i].backend,
        LoadBackend(args, specs[i], config, format, model->weights));
    if (specs.size() > 1) lanes[i].label = absl::StrCat(" [", specs[i], "]");
  }
  std::vector<int32_t> prompt(args.GetInt("prompt-tokens"));
  for (size_t i = 0; i < prompt.size(); ++i) {
    prompt[i] = static_cast<int32_t>((i * 7919 + 1) % config.vocab_size);
  }
  FormatFigures f;
  f.format = format;
  f.weight_bytes_per_token = WeightBytesPerToken(model->weights);
  if (huge_before.ok() && huge_after.ok() && model->bytes > 0) {
    const double grown =
        static_cast<double>(*huge_after) - static_cast<double>(*huge_before);
    f.huge_page_fraction = std::clamp(grown / model->bytes, 0.0, 1.0);
  }
  for (DecodeLane& lane : lanes) {
    TESSERA_RETURN_IF_ERROR(
        TimePrefill(prompt, static_cast<int>(args.GetInt("repeats")), lane));
  }
  TESSERA_RETURN_IF_ERROR(TimeDecode(
      prompt, args.GetInt("decode-tokens"),
      static_cast<int>(args.GetInt("decode-rounds")), probe, f, lanes));
  const DecodeLane::Round median = lanes[0].Median();
  f.decode_tok_s = median.tok_s;
  f.decode_bandwidth_gbps = median.gbps;
  f.decode_roofline_fraction = median.fraction;
  f.prefill_tok_s = lanes[0].prefill_tok_s;
  if (lanes.size() > 1) {
    f.compare_decode_tok_s = lanes[1].Median().tok_s;
    f.compare_prefill_tok_s = lanes[1].prefill_tok_s;
    f.decode_ratio = MedianRatio(lanes[0], lanes[1]);
  }
  for (const DecodeLane& lane : lanes) {
    std::cerr << "  " << model::TypeName(format) << ": "
              << lane.backend->Describe();
    if (f.huge_page_fraction >= 0) {
      std::cerr << absl::StrFormat(", weights %.0f%% in 2 MiB pages",
                                   100 * f.huge_page_fraction);
    }
    std::cerr << "\n";
  }
  return f;
}

void Print(const ArgParser& args, double bandwidth,
           const std::vector<FormatFigures>& figures) {
  if (args.GetBool("json")) {
    std::string json = absl::StrFormat(
        "{\"backend\": \"%s\", \"shape\": \"%s\", \"threads\": %d, "
        "\"prefill_tokens\": %d, \"memory_bandwidth_gbps\": %.3f",
        args.GetString("backend"), args.GetString("shape"),
        args.GetInt("threads"), args.GetInt("prompt-tokens"), bandwidth);
    for (const FormatFigures& f : figures) {
      absl::StrAppendFormat(
          &json,
          ", \"%s\": {\"weight_bytes_per_token\": %d, \"decode_tok_s\": %.3f, "
          "\"decode_bandwidth_gbps\": %.3f, "
          "\"decode_roofline_fraction\": %.4f, "
          "\"decode_fraction_of_best_bandwidth\": %.4f, "
          "\"prefill_tok_s\": %.3f, \"weights_huge_page_fraction\": %.3f",
          model::TypeName(f.format), f.weight_bytes_per_token, f.decode_tok_s,
          f.decode_bandwidth_gbps, f.decode_roofline_fraction,
          f.decode_tok_s * f.weight_bytes_per_token / (bandwidth * 1e9),
          f.prefill_tok_s, f.huge_page_fraction);
      if (!args.GetString("compare").empty()) {
        absl::StrAppendFormat(
            &json,
            ", \"compare_backend\": \"%s\", \"compare_decode_tok_s\": %.3f, "
            "\"compare_prefill_tok_s\": %.3f, \"decode_ratio\": %.4f",
            args.GetString("compare"), f.compare_decode_tok_s,
            f.compare_prefill_tok_s, f.decode_ratio);
      }
      json += "}";
    }
    std::cout << json << "}\n";
    return;
  }
  std::cout << absl::StrFormat(
      "memory read bandwidth: %.1f GB/s (%d threads, best window of the run)\n",
      bandwidth, args.GetInt("threads"));
  std::cout << absl::StrFormat("%-6s %10s %12s %10s %10s %10s %14s\n", "format",
                               "MB/token", "decode tok/s", "GB/s then",
                               "roofline", "of best", "prefill tok/s");
  for (const FormatFigures& f : figures) {
    std::cout << absl::StrFormat(
        "%-6s %10.1f %12.2f %10.1f %9.1f%% %9.1f%% %14.2f\n",
        model::TypeName(f.format), f.weight_bytes_per_token / 1e6,
        f.decode_tok_s, f.decode_bandwidth_gbps,
        100 * f.decode_roofline_fraction,
        100 * f.decode_tok_s * f.weight_bytes_per_token / (bandwidth * 1e9),
        f.prefill_tok_s);
  }
  if (args.GetString("compare").empty()) return;
  std::cout << absl::StrFormat(
      "compared with %s, decode rounds alternating; ratio = %s / %s decode "
      "rate, median over rounds\n",
      args.GetString("compare"), args.GetString("backend"),
      args.GetString("compare"));
  std::cout << absl::StrFormat("%-6s %12s %14s %10s\n", "format",
                               "decode tok/s", "prefill tok/s", "ratio");
  for (const FormatFigures& f : figures) {
    std::cout << absl::StrFormat(
        "%-6s %12.2f %14.2f %10.3f\n", model::TypeName(f.format),
        f.compare_decode_tok_s, f.compare_prefill_tok_s, f.decode_ratio);
  }
}

absl::Status Bench(const ArgParser& args) {
  TESSERA_ASSIGN_OR_RETURN(model::ModelShape shape,
                           model::FindShape(args.GetString("shape")));
  if (args.GetInt("threads") < 1 || args.GetInt("prompt-tokens") < 1 ||
      args.GetInt("decode-tokens") < 1 || args.GetInt("repeats") < 1 ||
      args.GetInt("bandwidth-mb") < 16 || args.GetInt("decode-rounds") < 1) {
    return absl::InvalidArgumentError(
        "--threads, --prompt-tokens, --decode-tokens, --repeats and "
        "--decode-rounds must be >= 1, "
        "--bandwidth-mb >= 16");
  }
  std::vector<GgmlType> formats;
  for (absl::string_view name :
       absl::StrSplit(args.GetString("formats"), ',')) {
    TESSERA_ASSIGN_OR_RETURN(GgmlType f, model::ParseTypeName(name));
    formats.push_back(f);
  }
  if (args.GetBool("f16")) formats.push_back(GgmlType::kF16);
  kernels::ThreadPool pool(static_cast<int>(args.GetInt("threads")));
  BandwidthProbe probe(pool, args.GetInt("bandwidth-mb") << 20);
  probe.Measure(10);
  std::vector<FormatFigures> figures;
  for (GgmlType format : formats) {
    TESSERA_ASSIGN_OR_RETURN(
        FormatFigures f, BenchFormat(args, shape.config, format, pool, probe));
    figures.push_back(f);
  }
  probe.Measure(10);
  Print(args, probe.best(), figures);
  return absl::OkStatus();
}

int BenchMain(const std::vector<std::string>& argv) {
  ArgParser args(
      "tessera bench [--backend cpu|opencl[:P:D]] [--threads N] "
      "[--compare BACKEND] [--shape NAME] [--formats q8_0,q4_0] [--f16] "
      "[--json]");
  args.String("backend", "cpu", "cpu[:ISA] | opencl[:PLATFORM:DEVICE]")
      .String("compare", "",
              "a second backend, its decode rounds alternating with the "
              "first's; prints the median ratio of their decode rates")
      .Int("threads", 2, "CPU threads (backend and bandwidth measurement)")
      .String("shape", "tinyllama-1.1b", "model shape (model_shapes.h)")
      .String("formats", "q8_0,q4_0", "comma-separated execution formats")
      .Bool("f16", false, "also measure F16 weights")
      .String("kv-type", "f32", "KV cache element type: f32 | f16")
      .Int("prompt-tokens", 128, "prefill prompt length")
      .Int("decode-tokens", 32, "decode steps timed after the prompt")
      .Int("repeats", 2, "prefill repetitions (best is reported)")
      .Int("bandwidth-mb", 1024, "buffer size of the bandwidth measurement")
      .Int("decode-rounds", 3,
           "decode rounds, each between two bandwidth measurements")
      .Int("seed", 1, "random weight seed")
      .Bool("json", false, "print one JSON object");
  int exit_code = 0;
  if (!ParseOrExit(args, argv, exit_code)) return exit_code;
  absl::Status status = Bench(args);
  if (!status.ok()) {
    std::cerr << "tessera bench: " << status << "\n";
    return absl::IsInvalidArgument(status) || absl::IsNotFound(status) ? 2 : 1;
  }
  return 0;
}

}  // namespace

TESSERA_REGISTER_COMMAND(bench,
                         "measure memory bandwidth, decode and prefill speed",
                         BenchMain);

}  // namespace tessera::cli
