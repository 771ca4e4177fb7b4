// `tessera bench-cluster`: the distributed runtime's benchmark (issue 5).
// Starts tessera-worker and tessera-coordinator processes on loopback
// (coordinator/local_cluster.h, even layer split, layers in --format) and
// measures in one run, on --model:
//   (a) greedy decode tokens/s of 2 workers against 1 worker (--threads
//       each), measured alternately, best of --repeats, and their ratio;
//   (b) the hop between the two workers: LinkProbe round trip (median), and
//       the per-token time a decode step spends outside the stages' compute
//       and codec, with 1 and with 2 workers (the difference is one hop);
//   (c) activation payload bytes per decode token for every codec, with and
//       without zstd (one 2-worker cluster per codec): the codec's output as
//       sent, gRPC/protobuf framing not counted, measured on a single
//       request (a micro-batch's stage timings are shared by its sessions);
//   (d) time to first token of a --ttft-tokens prompt for every codec;
//   (e) aggregate tokens/s of --concurrent simultaneous requests against one
//       request on 2 workers (client wall clock, prefill included).
// Prints a table, or with --json one JSON object. Figures, not tests.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/args.h"
#include "cli/command.h"
#include "common/status_macros.h"
#include "coordinator/bench_cluster.h"
#include "coordinator/local_cluster.h"
#include "model/model_file.h"
#include "worker/activation_codec.h"

namespace tessera::cli {
namespace {

using coordinator::BenchClient;
using coordinator::ConcurrentResult;
using coordinator::GenerateResult;
using coordinator::LocalCluster;

struct Setup {
  std::string model_path, model_dir, bin_dir, work_dir, backend, format;
  std::string speed_codec;  // codec of the (a), (b), (e) clusters
  int threads = 1, decode_tokens = 32, repeats = 2, concurrent = 4;
  int zstd_level = 3, probe_round_trips = 200;
  int64_t hidden_dim = 0;  // f32 activations: 4 * hidden_dim bytes/token
  absl::Duration timeout;
  std::string decode_prompt, ttft_prompt;
  std::vector<std::string> concurrent_prompts;
};

struct CodecFigures {
  std::string codec;
  int zstd_level = 0;
  GenerateResult decode;  // wire bytes, codec time, decode speed
  GenerateResult ttft;
};

struct Figures {
  GenerateResult one_worker, two_workers;  // best decode runs
  coordinator::HopFigures hop;
  ConcurrentResult single, concurrent;  // best aggregate runs
  std::vector<CodecFigures> codecs;
};

void Progress(const std::string& line) { std::cerr << "  " << line << "\n"; }

std::string CodecLabel(const std::string& codec, int zstd_level) {
  return zstd_level > 0 ? absl::StrCat(codec, "+zstd", zstd_level) : codec;
}

absl::StatusOr<std::unique_ptr<LocalCluster>> StartCluster(
    const Setup& s, int workers, const std::string& codec, int zstd_level) {
  Progress(absl::StrCat("starting ", workers, " worker(s), codec ",
                        CodecLabel(codec, zstd_level)));
  coordinator::LocalClusterOptions o;
  o.bin_dir = s.bin_dir;
  o.work_dir = s.work_dir;
  o.model_path = s.model_path;
  o.model_dir = s.model_dir;
  o.workers = workers;
  o.backend = s.backend;
  o.threads = s.threads;
  o.codec = codec;
  o.zstd_level = zstd_level;
  o.planner = "even";
  o.extra_coordinator_flags = {"--format", s.format};
  o.start_timeout = s.timeout;
  return LocalCluster::Start(o);
}

// The first calls of a fresh cluster page in weights and open streams.
absl::Status Warm(const Setup& s, const BenchClient& client) {
  return client.Generate(s.decode_prompt, 4).status();
}

const GenerateResult& Faster(const GenerateResult& a, const GenerateResult& b) {
  return b.decode_tok_s > a.decode_tok_s ? b : a;
}

// (a): 1 and 2 workers alternately, so that load from other processes on
// the machine hits both alike; best of `repeats` each.
absl::Status MeasureDecode(const Setup& s, const BenchClient& one,
                           const BenchClient& two, Figures& f) {
  for (int r = 0; r < s.repeats; ++r) {
    TESSERA_ASSIGN_OR_RETURN(GenerateResult a,
                             one.Generate(s.decode_prompt, s.decode_tokens));
    TESSERA_ASSIGN_OR_RETURN(GenerateResult b,
                             two.Generate(s.decode_prompt, s.decode_tokens));
    Progress(
        absl::StrFormat("decode: 1 worker %.2f tok/s, 2 workers %.2f tok/s",
                        a.decode_tok_s, b.decode_tok_s));
    f.one_worker = r == 0 ? a : Faster(f.one_worker, a);
    f.two_workers = r == 0 ? b : Faster(f.two_workers, b);
  }
  return absl::OkStatus();
}

// (e): one request against `concurrent` at once, alternately.
absl::Status MeasureConcurrency(const Setup& s, const BenchClient& client,
                                Figures& f) {
  for (int r = 0; r < s.repeats; ++r) {
    TESSERA_ASSIGN_OR_RETURN(ConcurrentResult one,
                             client.GenerateConcurrently(
                                 {s.concurrent_prompts[0]}, s.decode_tokens));
    TESSERA_ASSIGN_OR_RETURN(
        ConcurrentResult many,
        client.GenerateConcurrently(s.concurrent_prompts, s.decode_tokens));
    Progress(absl::StrFormat("aggregate: 1 request %.2f tok/s, %d: %.2f tok/s",
                             one.aggregate_tok_s(), s.concurrent,
                             many.aggregate_tok_s()));
    if (r == 0 || one.aggregate_tok_s() > f.single.aggregate_tok_s()) {
      f.single = std::move(one);
    }
    if (r == 0 || many.aggregate_tok_s() > f.concurrent.aggregate_tok_s()) {
      f.concurrent = std::move(many);
    }
  }
  return absl::OkStatus();
}

// (c) and (d) on a warm cluster whose codec is `c`.
absl::Status MeasureCodec(const Setup& s, const BenchClient& client,
                          CodecFigures& c) {
  TESSERA_ASSIGN_OR_RETURN(c.decode,
                           client.Generate(s.decode_prompt, s.decode_tokens));
  TESSERA_ASSIGN_OR_RETURN(c.ttft, client.Generate(s.ttft_prompt, 1));
  Progress(absl::StrFormat(
      "%s: %.0f bytes/token, first token of %d-token prompt %.1f ms",
      CodecLabel(c.codec, c.zstd_level), c.decode.wire_bytes_per_token(),
      c.ttft.prompt_tokens, c.ttft.time_to_first_token_ms));
  return absl::OkStatus();
}

// (a), (b), (e) and the speed codec's (c), (d).
absl::Status MeasureSpeed(const Setup& s, Figures& f) {
  TESSERA_ASSIGN_OR_RETURN(auto one, StartCluster(s, 1, s.speed_codec, 0));
  TESSERA_ASSIGN_OR_RETURN(auto two, StartCluster(s, 2, s.speed_codec, 0));
  BenchClient one_client(one->coordinator_address(), "", s.timeout);
  BenchClient two_client(two->coordinator_address(), "", s.timeout);
  TESSERA_RETURN_IF_ERROR(Warm(s, one_client));
  TESSERA_RETURN_IF_ERROR(Warm(s, two_client));
  TESSERA_RETURN_IF_ERROR(MeasureDecode(s, one_client, two_client, f));
  one.reset();
  TESSERA_ASSIGN_OR_RETURN(
      f.hop, coordinator::MeasureHop(two->worker_addresses()[0],
                                     two->worker_addresses()[1], "",
                                     s.probe_round_trips, 1 << 20));
  TESSERA_RETURN_IF_ERROR(MeasureConcurrency(s, two_client, f));
  CodecFigures c{s.speed_codec, 0};
  TESSERA_RETURN_IF_ERROR(MeasureCodec(s, two_client, c));
  f.codecs.push_back(std::move(c));
  return absl::OkStatus();
}

absl::Status MeasureCodecs(const Setup& s, Figures& f) {
  for (const char* codec : {"f32", "f16", "q8_0"}) {
    for (int zstd : {0, s.zstd_level}) {
      if (codec == s.speed_codec && zstd == 0) continue;  // measured already
      TESSERA_ASSIGN_OR_RETURN(auto cluster, StartCluster(s, 2, codec, zstd));
      BenchClient client(cluster->coordinator_address(), "", s.timeout);
      TESSERA_RETURN_IF_ERROR(Warm(s, client));
      CodecFigures c{codec, zstd};
      TESSERA_RETURN_IF_ERROR(MeasureCodec(s, client, c));
      f.codecs.push_back(std::move(c));
    }
  }
  return absl::OkStatus();
}

// a / b, or 0 when b is not positive (a figure that could not be taken).
double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

// A JSON string literal of `text`.
std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string CodecsJson(const Figures& f) {
  std::string json;
  for (const CodecFigures& c : f.codecs) {
    absl::StrAppendFormat(
        &json,
        "%s\"%s\": {\"codec\": \"%s\", \"zstd_level\": %d, "
        "\"wire_bytes_per_token\": %.1f, \"codec_us_per_token\": %.1f, "
        "\"decode_tok_s\": %.3f, \"ttft_ms\": %.1f, \"ttft_prompt_tokens\": "
        "%d}",
        json.empty() ? "" : ", ", CodecLabel(c.codec, c.zstd_level), c.codec,
        c.zstd_level, c.decode.wire_bytes_per_token(),
        c.decode.codec_us_per_token(), c.decode.decode_tok_s,
        c.ttft.time_to_first_token_ms, c.ttft.prompt_tokens);
  }
  return absl::StrCat("{", json, "}");
}

void PrintJson(const Setup& s, const Figures& f) {
  std::cout << absl::StrFormat(
      "{\"model\": %s, \"format\": \"%s\", \"backend\": \"%s\", "
      "\"threads_per_worker\": %d, \"decode_tokens\": %d, \"repeats\": %d, "
      "\"decode_tok_s_1_worker\": %.3f, \"decode_tok_s_2_workers\": %.3f, "
      "\"decode_ratio_2_vs_1\": %.4f, \"step_overhead_us_1_worker\": %.1f, "
      "\"step_overhead_us_2_workers\": %.1f, \"stage_hop_us\": %.1f, "
      "\"link_round_trip_us\": %.1f, \"link_one_way_us\": %.1f, "
      "\"link_bytes_per_second\": %.0f, \"codecs\": %s, "
      "\"concurrent_requests\": %d, \"aggregate_tok_s_1_request\": %.3f, "
      "\"aggregate_tok_s_concurrent\": %.3f, \"concurrency_ratio\": %.4f}\n",
      JsonString(s.model_path), s.format, s.backend, s.threads, s.decode_tokens,
      s.repeats, f.one_worker.decode_tok_s, f.two_workers.decode_tok_s,
      Ratio(f.two_workers.decode_tok_s, f.one_worker.decode_tok_s),
      f.one_worker.step_overhead_us(), f.two_workers.step_overhead_us(),
      f.two_workers.step_overhead_us() - f.one_worker.step_overhead_us(),
      f.hop.round_trip_us, f.hop.one_way_us, f.hop.bytes_per_second,
      CodecsJson(f), s.concurrent, f.single.aggregate_tok_s(),
      f.concurrent.aggregate_tok_s(),
      Ratio(f.concurrent.aggregate_tok_s(), f.single.aggregate_tok_s()));
}

void PrintDecode(const Setup& s, const Figures& f) {
  std::cout << absl::StrFormat("(a) decode, %d tokens, codec %s, best of %d\n",
                               s.decode_tokens, s.speed_codec, s.repeats);
  for (const GenerateResult* r : {&f.one_worker, &f.two_workers}) {
    std::cout << absl::StrFormat(
        "    %d worker%s %8.2f tok/s   stages %8.2f ms/token   outside "
        "stages %7.0f us/token\n",
        static_cast<int>(r->stages.size()), r->stages.size() > 1 ? "s" : " ",
        r->decode_tok_s, r->stage_us_per_token() / 1000, r->step_overhead_us());
  }
  std::cout << absl::StrFormat(
      "    ratio 2/1   %.3f   (target >= 0.95)\n",
      Ratio(f.two_workers.decode_tok_s, f.one_worker.decode_tok_s));
}

void PrintTable(const Setup& s, const Figures& f) {
  std::cout << absl::StrFormat(
      "tessera bench-cluster: %s, layers %s, backend %s, %d thread(s) per "
      "worker, loopback, even split\n",
      s.model_path, s.format, s.backend, s.threads);
  PrintDecode(s, f);
  std::cout << absl::StrFormat(
      "(b) hop w1 -> w2: LinkProbe round trip %.1f us (one way %.1f us), "
      "1 MiB at %.0f MB/s; decode step, 2 workers minus 1: %.0f us\n",
      f.hop.round_trip_us, f.hop.one_way_us, f.hop.bytes_per_second / 1e6,
      f.two_workers.step_overhead_us() - f.one_worker.step_overhead_us());
  std::cout << absl::StrFormat(
      "(c,d) 2 workers   %-12s %12s %8s %14s %12s %14s\n", "codec",
      "bytes/token", "vs f32", "codec us/tok", "decode tok/s", "TTFT ms");
  for (const CodecFigures& c : f.codecs) {
    std::cout << absl::StrFormat(
        "                  %-12s %12.1f %8.3f %14.1f %12.2f %14.1f  (%d-token "
        "prompt)\n",
        CodecLabel(c.codec, c.zstd_level), c.decode.wire_bytes_per_token(),
        Ratio(c.decode.wire_bytes_per_token(), 4.0 * s.hidden_dim),
        c.decode.codec_us_per_token(), c.decode.decode_tok_s,
        c.ttft.time_to_first_token_ms, c.ttft.prompt_tokens);
  }
  std::cout << absl::StrFormat(
      "(e) 2 workers, %d tokens each: 1 request %.2f tok/s, %d concurrent "
      "%.2f tok/s, ratio %.3f (target >= 1.8)\n",
      s.decode_tokens, f.single.aggregate_tok_s(), s.concurrent,
      f.concurrent.aggregate_tok_s(),
      Ratio(f.concurrent.aggregate_tok_s(), f.single.aggregate_tok_s()));
}

// The directory holding the running `tessera` binary (where the build puts
// tessera-worker and tessera-coordinator too).
std::string OwnBinDir() {
  std::error_code ec;
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : self.parent_path().string();
}

absl::Status CheckFlags(const ArgParser& args) {
  for (const char* name : {"n", "repeats", "concurrent", "threads",
                           "probe-round-trips", "timeout"}) {
    if (args.GetInt(name) < 1 || args.GetInt(name) > 100000) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " must be in [1, 100000]"));
    }
  }
  if (args.GetInt("n") < 2) {
    return absl::InvalidArgumentError("-n must be at least 2 (decode speed)");
  }
  if (args.GetInt("ttft-tokens") < 2 || args.GetInt("zstd-level") < 1 ||
      args.GetInt("zstd-level") > 19) {
    return absl::InvalidArgumentError(
        "--ttft-tokens must be >= 2 and --zstd-level in [1, 19]");
  }
  TESSERA_RETURN_IF_ERROR(worker::ParseCodec(args.GetString("codec")).status());
  return model::ParseTypeName(args.GetString("format")).status();
}

// Flags, then the model's tokenizer and shape for the prompts.
absl::StatusOr<Setup> MakeSetup(const ArgParser& args) {
  TESSERA_RETURN_IF_ERROR(CheckFlags(args));
  std::error_code ec;
  Setup s;
  s.model_path = args.GetString("model");
  s.model_dir =
      args.Has("model-dir")
          ? args.GetString("model-dir")
          : std::filesystem::path(s.model_path).parent_path().string();
  if (s.model_dir.empty()) s.model_dir = std::filesystem::current_path(ec);
  s.bin_dir = args.Has("bin-dir") ? args.GetString("bin-dir") : OwnBinDir();
  s.backend = args.GetString("backend");
  s.format = args.GetString("format");
  s.speed_codec = args.GetString("codec");
  s.threads = static_cast<int>(args.GetInt("threads"));
  s.decode_tokens = static_cast<int>(args.GetInt("n"));
  s.repeats = static_cast<int>(args.GetInt("repeats"));
  s.concurrent = static_cast<int>(args.GetInt("concurrent"));
  s.zstd_level = static_cast<int>(args.GetInt("zstd-level"));
  s.probe_round_trips = static_cast<int>(args.GetInt("probe-round-trips"));
  s.timeout = absl::Seconds(args.GetInt("timeout"));
  TESSERA_ASSIGN_OR_RETURN(auto model, model::ModelFile::Open(s.model_path));
  s.hidden_dim = model->config.dim;
  const model::Tokenizer& tok = *model->tokenizer;
  TESSERA_ASSIGN_OR_RETURN(s.decode_prompt,
                           coordinator::PromptOfTokens(tok, 16, 1));
  TESSERA_ASSIGN_OR_RETURN(
      s.ttft_prompt,
      coordinator::PromptOfTokens(tok, args.GetInt("ttft-tokens"), 2));
  for (int i = 0; i < s.concurrent; ++i) {
    TESSERA_ASSIGN_OR_RETURN(std::string p,
                             coordinator::PromptOfTokens(tok, 16, 10 + i));
    s.concurrent_prompts.push_back(std::move(p));
  }
  return s;
}

absl::Status BenchCluster(const ArgParser& args) {
  TESSERA_ASSIGN_OR_RETURN(Setup s, MakeSetup(args));
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "tessera-bench-XXXXXX")
          .string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    return absl::InternalError("cannot create a work directory under /tmp");
  }
  s.work_dir = dir_template;
  Figures f;
  absl::Status status = MeasureSpeed(s, f);
  if (status.ok()) status = MeasureCodecs(s, f);
  if (!status.ok()) {
    return Annotate(status, absl::StrCat("logs kept in ", s.work_dir));
  }
  std::error_code ec;
  std::filesystem::remove_all(s.work_dir, ec);
  if (args.GetBool("json")) {
    PrintJson(s, f);
  } else {
    PrintTable(s, f);
  }
  return absl::OkStatus();
}

void DeclareFlags(ArgParser& args) {
  args.String("model", "", "GGUF model file")
      .Required("model")
      .String("model-dir", "", "workers' model directory (empty: the model's)")
      .String("bin-dir", "",
              "where tessera-worker and tessera-coordinator "
              "are (empty: beside this binary)")
      .String("backend", "cpu", "worker backend: cpu | reference | opencl")
      .String("format", "q8_0", "layer execution format")
      .Int("threads", 1, "compute threads per worker")
      .String("codec", "f32", "activation codec of the speed measurements")
      .Int("zstd-level", 3, "zstd level of the compressed codec runs")
      .Int("n", 32, "decode tokens per measurement", "n")
      .Int("ttft-tokens", 512, "prompt tokens of the first-token measurement")
      .Int("concurrent", 4, "simultaneous requests of the aggregate figure")
      .Int("repeats", 2, "alternating repetitions (best is reported)")
      .Int("probe-round-trips", 200, "LinkProbe round trips (median)")
      .Int("timeout", 600, "seconds for a cluster start or a request")
      .Bool("json", false, "print one JSON object");
}

int BenchClusterMain(const std::vector<std::string>& argv) {
  ArgParser args("tessera bench-cluster --model PATH [-n N] [--json] [flags]");
  DeclareFlags(args);
  int exit_code = 0;
  if (!ParseOrExit(args, argv, exit_code)) return exit_code;
  absl::Status status = BenchCluster(args);
  if (!status.ok()) {
    std::cerr << "tessera bench-cluster: " << status << "\n";
    return absl::IsInvalidArgument(status) ? 2 : 1;
  }
  return 0;
}

}  // namespace

TESSERA_REGISTER_COMMAND_NAMED(
    bench_cluster, "bench-cluster",
    "benchmark the distributed runtime on loopback (issue 5 figures)",
    BenchClusterMain);

}  // namespace tessera::cli
