// End-to-end tests of the distributed runtime: three tessera-worker
// processes and a tessera-coordinator on loopback ports chosen at run time.
// Greedy generation must reproduce the golden continuations exactly with the
// f32 activation codec; f16 / q8_0 report their agreement; concurrent
// requests, dead and hung workers and corrupt frames are exercised against
// the real binaries. Join tokens and TLS: distributed_security_test.cc.
#include <signal.h>

#include <atomic>

#include <functional>
#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/testing/golden.h"
#include "common/testing/shared_data.h"
#include "coordinator/local_cluster.h"
#include "gtest/gtest.h"
#include "model/generation.h"
#include "model/model_file.h"
#include "tessera/v1/coordinator.grpc.pb.h"
#include "tessera/v1/worker.grpc.pb.h"
#include "tests/distributed_fixture.h"
#include "tests/tool_runner.h"
#include "worker/activation_codec.h"
#include "worker/rpc_util.h"

namespace tessera {
namespace {

using coordinator::LocalCluster;
using coordinator::LocalClusterOptions;

// The profile of the cluster's first worker (empty on failure).
v1::ProfileResponse FirstWorkerProfile(const LocalCluster& cluster) {
  auto stub = v1::WorkerService::NewStub(grpc::CreateChannel(
      cluster.worker_addresses()[0], grpc::InsecureChannelCredentials()));
  v1::ProfileResponse profile;
  auto context = worker::MakeContext("", absl::Seconds(30));
  const grpc::Status status = stub->Profile(context.get(), {}, &profile);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return profile;
}

// Every backend the worker offers for the pipeline reproduces the goldens.
class DistributedBackendTest
    : public DistributedTest,
      public ::testing::WithParamInterface<std::string> {};

TEST_P(DistributedBackendTest, GreedyF32ReproducesEveryGoldenCase) {
  LocalClusterOptions o = Options("f32");
  o.backend = GetParam();
  auto cluster = StartCluster(o);
  ASSERT_NE(cluster, nullptr);
  for (const testing::GoldenCase& g : golden_) {
    Completion c = Generate(cluster->coordinator_address(), g.prompt,
                            static_cast<int>(g.new_tokens));
    ASSERT_TRUE(c.status.ok()) << c.status;
    EXPECT_EQ(c.text, g.continuation) << g.prompt;
    EXPECT_EQ(c.last.usage().prompt_tokens(),
              static_cast<int>(g.prompt_ids_with_bos.size()));
    EXPECT_EQ(c.last.usage().generated_tokens(), g.new_tokens);
    EXPECT_EQ(c.last.finish_reason(), v1::FINISH_REASON_LENGTH);
    EXPECT_EQ(c.last.stages_size(), 3) << "per-stage timings";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, DistributedBackendTest,
                         ::testing::Values("reference", "cpu"));

// The partitioner plans from the measured profiles (it may pick fewer
// stages for a tiny model); the f32 output stays exact.
TEST_F(DistributedTest, PartitionerPlanReproducesGoldens) {
  LocalClusterOptions o = Options("f32");
  o.planner = "partitioner";
  o.backend = "cpu";
  auto cluster = StartCluster(o);
  ASSERT_NE(cluster, nullptr);
  auto stub = v1::CoordinatorService::NewStub(grpc::CreateChannel(
      cluster->coordinator_address(), grpc::InsecureChannelCredentials()));
  v1::ClusterStatusResponse status;
  auto context = worker::MakeContext("", absl::Seconds(10));
  ASSERT_TRUE(stub->ClusterStatus(context.get(), {}, &status).ok());
  EXPECT_TRUE(absl::StartsWith(status.planner(), "partitioner"))
      << status.planner();
  ASSERT_GE(status.stages_size(), 1);
  EXPECT_EQ(status.stages(status.stages_size() - 1).end_layer(), 5);
  for (const testing::GoldenCase& g : golden_) {
    Completion c = Generate(cluster->coordinator_address(), g.prompt,
                            static_cast<int>(g.new_tokens));
    ASSERT_TRUE(c.status.ok()) << c.status;
    EXPECT_EQ(c.text, g.continuation) << g.prompt;
  }
}

// Workers keeping their KV cache in f16 (--kv-type f16) say so in their
// profiles, the partitioner plans with their KV size, and the stories260K
// goldens survive the halved KV precision.
TEST_F(DistributedTest, F16KvCacheWorkersReproduceGoldens) {
  LocalClusterOptions o = Options("f32");
  o.backend = "cpu";
  o.planner = "partitioner";
  o.extra_worker_flags = {"--kv-type", "f16"};
  auto cluster = StartCluster(o);
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(FirstWorkerProfile(*cluster).kv_format(), v1::TENSOR_FORMAT_F16);
  for (const testing::GoldenCase& g : golden_) {
    Completion c = Generate(cluster->coordinator_address(), g.prompt,
                            static_cast<int>(g.new_tokens));
    ASSERT_TRUE(c.status.ok()) << c.status;
    EXPECT_EQ(c.text, g.continuation) << g.prompt;
  }
}

// Token agreement of each lossy codec with the f32 reference generation.
TEST_F(DistributedTest, LossyCodecsReportAgreement) {
  auto file = model::ModelFile::Open(testing::StoriesModelPath());
  ASSERT_TRUE(file.ok()) << file.status();
  auto reference = model::ReferenceModel::Create((*file)->weights);
  ASSERT_TRUE(reference.ok());
  std::vector<std::vector<int32_t>> expected;
  for (const testing::GoldenCase& g : golden_) {
    model::ReferenceLogitsModel logits(**reference, 512);
    model::GenerationOptions options;
    options.max_new_tokens = g.new_tokens;
    auto result = model::Generate(logits, *(*file)->tokenizer,
                                  g.prompt_ids_with_bos, options);
    ASSERT_TRUE(result.ok());
    expected.push_back(result->tokens);
  }
  for (const char* codec : {"f16", "q8_0"}) {
    for (int zstd : {0, 3}) {
      LocalClusterOptions o = Options(codec);
      o.zstd_level = zstd;
      auto cluster = StartCluster(o);
      ASSERT_NE(cluster, nullptr);
      int same = 0, total = 0, prefix_sum = 0;
      for (size_t i = 0; i < golden_.size(); ++i) {
        Completion c = Generate(cluster->coordinator_address(),
                                golden_[i].prompt, golden_[i].new_tokens);
        ASSERT_TRUE(c.status.ok()) << codec << ": " << c.status;
        ASSERT_EQ(c.tokens.size(), expected[i].size());
        size_t prefix = 0;
        while (prefix < c.tokens.size() && c.tokens[prefix] == expected[i][prefix]) {
          ++prefix;
        }
        prefix_sum += static_cast<int>(prefix);
        for (size_t t = 0; t < c.tokens.size(); ++t) {
          same += c.tokens[t] == expected[i][t];
          ++total;
        }
      }
      const double agreement = static_cast<double>(same) / total;
      std::cout << "[ codec ] " << codec << (zstd ? "+zstd" : "")
                << ": token agreement with f32 " << same << "/" << total
                << ", mean matching prefix " << prefix_sum / golden_.size()
                << " tokens\n";
      RecordProperty(absl::StrCat(codec, zstd ? "_zstd" : "", "_agreement"),
                     absl::StrCat(agreement));
      // Greedy decoding is chaotic after a first divergence, so only the
      // prefixes must agree substantially (measured: f16 100/100 tokens,
      // q8_0 93/100 on average).
      const int min_prefix = std::string(codec) == "f16" ? 90 : 50;
      EXPECT_GE(prefix_sum / static_cast<int>(golden_.size()), min_prefix)
          << codec;
    }
  }
}

// `n` concurrent requests, the golden cases' prompts round robin.
std::vector<Completion> GenerateConcurrently(
    const std::string& address, const std::vector<testing::GoldenCase>& golden,
    int n) {
  std::vector<Completion> results(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      const testing::GoldenCase& g = golden[i % golden.size()];
      results[i] =
          Generate(address, g.prompt, static_cast<int>(g.new_tokens));
    });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

TEST_F(DistributedTest, EightConcurrentRequestsAllCorrect) {
  auto cluster = StartCluster(Options("f32"));
  ASSERT_NE(cluster, nullptr);
  const std::vector<Completion> results =
      GenerateConcurrently(cluster->coordinator_address(), golden_, 8);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(results[i].status.ok()) << i << ": " << results[i].status;
    EXPECT_EQ(results[i].text, golden_[i % golden_.size()].continuation) << i;
    // Decode steps that met on a stage ran as one batch; each request is
    // charged its own row: one f32 row of dim 64 per decode step per hop.
    const v1::GenerateResponse& last = results[i].last;
    const int64_t decode_steps = last.usage().generated_tokens() - 1;
    ASSERT_EQ(last.stages_size(), 3);
    for (int s = 0; s < 2; ++s) {
      EXPECT_EQ(last.stages(s).wire_bytes(), decode_steps * 64 * 4) << i;
    }
  }
}

// Workers whose KV budget (--kv-budget 128 KiB) holds one or two of these
// sessions at a time: the coordinator queues the rest until sessions end,
// so all eight requests finish with the golden text instead of failing for
// KV memory mid-generation, and a request that could never fit is refused
// at once.
TEST_F(DistributedTest, KvAdmissionQueuesWhatTheWorkersCannotHoldYet) {
  LocalClusterOptions o = Options("f32");
  o.backend = "cpu";
  o.extra_worker_flags = {"--kv-budget", "131072"};
  auto cluster = StartCluster(o);
  ASSERT_NE(cluster, nullptr);
  auto stub = v1::CoordinatorService::NewStub(grpc::CreateChannel(
      cluster->coordinator_address(), grpc::InsecureChannelCredentials()));
  std::atomic<bool> running{true};
  std::atomic<int> most_queued{0};
  std::thread watcher([&] {
    while (running.load()) {
      v1::ClusterStatusResponse status;
      auto context = worker::MakeContext("", absl::Seconds(10));
      if (stub->ClusterStatus(context.get(), {}, &status).ok() &&
          status.queued_requests() > most_queued.load()) {
        most_queued.store(status.queued_requests());
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
  const std::vector<Completion> results =
      GenerateConcurrently(cluster->coordinator_address(), golden_, 8);
  running.store(false);
  watcher.join();
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(results[i].status.ok()) << i << ": " << results[i].status;
    EXPECT_EQ(results[i].text, golden_[i % golden_.size()].continuation) << i;
  }
  EXPECT_GE(most_queued.load(), 4) << "at most 2 of 8 sessions fit at once";
  // 400 new tokens need 7 pages a stage, more than the whole budget.
  const absl::Time start = absl::Now();
  Completion huge = Generate(cluster->coordinator_address(), golden_[0].prompt,
                             400);
  EXPECT_EQ(huge.status.code(), absl::StatusCode::kResourceExhausted)
      << huge.status;
  EXPECT_TRUE(absl::StrContains(huge.status.message(), "--kv-budget"))
      << huge.status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

// Kills (or freezes) a worker after a few tokens and checks that the request
// ends with UNAVAILABLE naming it within 5 s, and that the coordinator
// stays up and refuses new requests cleanly.
void ExpectCleanFailure(LocalCluster& cluster, int victim, int signal,
                        const std::string& prompt) {
  const std::string name = absl::StrCat("w", victim + 1);
  absl::Time signalled = absl::InfiniteFuture();
  Completion c = Generate(cluster.coordinator_address(), prompt, 400, "",
                          [&](int n, grpc::ClientContext&) {
                            if (n != 5) return;
                            cluster.worker(victim).Signal(signal);
                            signalled = absl::Now();
                          });
  const absl::Duration took = absl::Now() - signalled;
  std::cout << "[ fail  ] after " << absl::FormatDuration(took) << ": "
            << c.status << "\n";
  EXPECT_EQ(c.status.code(), absl::StatusCode::kUnavailable) << c.status;
  EXPECT_TRUE(absl::StrContains(c.status.message(), name)) << c.status;
  EXPECT_LT(took, absl::Seconds(5));
  const absl::Time again = absl::Now();
  Completion next = Generate(cluster.coordinator_address(), prompt, 10);
  EXPECT_EQ(next.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(next.status.message(), name)) << next.status;
  EXPECT_LT(absl::Now() - again, absl::Seconds(5));
  EXPECT_TRUE(cluster.coordinator().Running());
}

TEST_F(DistributedTest, KilledWorkerEndsRequestsCleanly) {
  auto cluster = StartCluster(Options("f32"));
  ASSERT_NE(cluster, nullptr);
  ExpectCleanFailure(*cluster, 1, SIGKILL, golden_[0].prompt);
}

TEST_F(DistributedTest, HungWorkerEndsRequestsCleanly) {
  auto cluster = StartCluster(Options("f32"));
  ASSERT_NE(cluster, nullptr);
  ExpectCleanFailure(*cluster, 2, SIGSTOP, golden_[0].prompt);
  cluster->worker(2).Signal(SIGCONT);
}

// w2's compute thread stalls in its 9th step while the process and its
// heartbeats go on: the heartbeat reports a step over its budget, and the
// request ends with UNAVAILABLE naming w2 within 5 s of the last token.
TEST_F(DistributedTest, StuckComputeThreadEndsRequestsCleanly) {
  LocalClusterOptions o = Options("f32");
  o.per_worker_flags = {{}, {"--fault-hang-after-steps", "8"}, {}};
  auto cluster = StartCluster(o);
  ASSERT_NE(cluster, nullptr);
  absl::Time last_token = absl::Now();
  Completion c = Generate(cluster->coordinator_address(), golden_[0].prompt,
                          400, "", [&](int, grpc::ClientContext&) {
                            last_token = absl::Now();
                          });
  const absl::Duration took = absl::Now() - last_token;
  std::cout << "[ stuck ] after " << absl::FormatDuration(took) << ": "
            << c.status << "\n";
  EXPECT_EQ(c.status.code(), absl::StatusCode::kUnavailable) << c.status;
  EXPECT_TRUE(absl::StrContains(c.status.message(), "w2")) << c.status;
  EXPECT_TRUE(absl::StrContains(c.status.message(), "hung")) << c.status;
  EXPECT_GT(c.tokens.size(), 0u);
  EXPECT_LT(c.tokens.size(), 20u);
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_TRUE(cluster->coordinator().Running());
}

TEST_F(DistributedTest, CancelledRequestLeavesTheClusterServing) {
  auto cluster = StartCluster(Options("f32"));
  ASSERT_NE(cluster, nullptr);
  Completion c = Generate(cluster->coordinator_address(), golden_[0].prompt,
                          400, "", [](int n, grpc::ClientContext& context) {
                            if (n == 3) context.TryCancel();
                          });
  EXPECT_EQ(c.status.code(), absl::StatusCode::kCancelled) << c.status;
  Completion next = Generate(cluster->coordinator_address(), golden_[1].prompt,
                             static_cast<int>(golden_[1].new_tokens));
  ASSERT_TRUE(next.status.ok()) << next.status;
  EXPECT_EQ(next.text, golden_[1].continuation);
  auto stub = v1::CoordinatorService::NewStub(grpc::CreateChannel(
      cluster->coordinator_address(), grpc::InsecureChannelCredentials()));
  v1::ClusterStatusResponse status;
  auto context = worker::MakeContext("", absl::Seconds(10));
  ASSERT_TRUE(stub->ClusterStatus(context.get(), {}, &status).ok());
  EXPECT_EQ(status.active_requests(), 0);
  EXPECT_EQ(status.stages_size(), 3);
}

// Sends frames straight to the middle worker, as its previous stage would.
TEST_F(DistributedTest, CorruptAndMalformedFramesAreRejected) {
  auto cluster = StartCluster(Options("f32"));
  ASSERT_NE(cluster, nullptr);
  auto stub = v1::WorkerService::NewStub(grpc::CreateChannel(
      cluster->worker_addresses()[1], grpc::InsecureChannelCredentials()));
  auto context = worker::MakeContext("", absl::Seconds(30));
  auto stream = stub->Forward(context.get());
  std::vector<float> hidden(64, 0.25f);
  auto make_frame = [&](uint64_t seq, uint64_t session) {
    v1::ForwardFrame frame;
    frame.set_sequence(seq);
    frame.add_starts()->set_session_id(session);
    v1::FrameRow* row = frame.add_rows();
    row->set_session_id(session);
    row->set_token(1);
    row->set_want_output(true);
    auto encoded = worker::EncodeActivations(hidden, 1, 64, {});
    worker::ToProto(*encoded, frame.mutable_activations());
    return frame;
  };
  std::vector<v1::ForwardFrame> frames = {make_frame(1, 901),
                                          make_frame(2, 902),
                                          make_frame(3, 903),
                                          make_frame(4, 904)};
  (*frames[1].mutable_activations()->mutable_data())[7] ^= 0x40;  // payload
  frames[2].mutable_activations()->set_rows(2);  // shape lies
  frames[3].mutable_activations()->set_raw_bytes(1 << 30);  // size lies
  for (const auto& f : frames) ASSERT_TRUE(stream->Write(f));
  std::map<uint64_t, int> codes;
  v1::ForwardAck ack;
  while (codes.size() < frames.size() && stream->Read(&ack)) {
    codes[ack.sequence()] = ack.code();
  }
  EXPECT_EQ(codes[1], 0);
  EXPECT_EQ(codes[2], static_cast<int>(absl::StatusCode::kDataLoss));
  EXPECT_EQ(codes[3], static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(codes[4], static_cast<int>(absl::StatusCode::kInvalidArgument));
  stream->WritesDone();
  // The worker keeps serving everyone else.
  Completion c = Generate(cluster->coordinator_address(), golden_[1].prompt,
                          static_cast<int>(golden_[1].new_tokens));
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.text, golden_[1].continuation);
}

TEST_F(DistributedTest, MissingModelAndOverBudgetShardAreRefused) {
  LocalClusterOptions o = Options("f32");
  o.model_dir = testing::TempDir();  // no models there
  auto missing = LocalCluster::Start(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(),
                                "does not have model"))
      << missing.status();
  o = Options("f32");
  o.extra_worker_flags = {"--memory-budget", "100000"};
  auto small = LocalCluster::Start(o);
  ASSERT_FALSE(small.ok());
  EXPECT_TRUE(absl::StrContains(small.status().message(), "memory budget"))
      << small.status();
}

TEST_F(DistributedTest, ProfileIsCachedAndLinksAreMeasured) {
  auto cluster = StartCluster(Options("f32"));
  ASSERT_NE(cluster, nullptr);
  const v1::ProfileResponse profile = FirstWorkerProfile(*cluster);
  EXPECT_TRUE(profile.from_cache());  // the coordinator profiled it already
  ASSERT_EQ(profile.benchmarks_size(), 4);
  EXPECT_GT(profile.benchmarks(0).decode_bytes_per_second(), 0);
  EXPECT_GT(profile.cpu_cores(), 0);
  v1::MeasureLinkRequest probe;
  probe.set_peer_address(cluster->worker_addresses()[1]);
  probe.set_payload_bytes(1 << 20);
  v1::MeasureLinkResponse link;
  auto stub = v1::WorkerService::NewStub(grpc::CreateChannel(
      cluster->worker_addresses()[0], grpc::InsecureChannelCredentials()));
  auto context = worker::MakeContext("", absl::Seconds(30));
  ASSERT_TRUE(stub->MeasureLink(context.get(), probe, &link).ok());
  EXPECT_GT(link.latency_us(), 0);
  EXPECT_GT(link.bytes_per_second(), 0);
  std::cout << "[ link  ] w1->w2 latency " << link.latency_us() << " us, "
            << link.bytes_per_second() / 1e6 << " MB/s\n";
}

TEST_F(DistributedTest, CliGenerateAndStatus) {
  auto cluster = StartCluster(Options("f32"));
  ASSERT_NE(cluster, nullptr);
  const testing::GoldenCase& g = golden_[2];
  testing::ToolResult r = testing::RunTool(
      {testing::BinPath("tessera"), "generate", "--coordinator",
       cluster->coordinator_address(), "--prompt", g.prompt, "-n",
       absl::StrCat(g.new_tokens), "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, g.continuation + "\n");
  // --chat builds the same prompt as a local `tessera run --chat`.
  testing::ToolResult chat = testing::RunTool(
      {testing::BinPath("tessera"), "generate", "--coordinator",
       cluster->coordinator_address(), "--prompt", g.prompt, "-n", "12",
       "--temp", "0", "--chat"});
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  testing::ToolResult local = testing::RunTool(
      {testing::BinPath("tessera"), "run", "--model",
       testing::StoriesModelPath(), "--prompt", g.prompt, "-n", "12",
       "--temp", "0", "--chat", "--backend", "reference"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_EQ(absl::StripTrailingAsciiWhitespace(chat.out),
            absl::StripTrailingAsciiWhitespace(local.out));
  r = testing::RunTool({testing::BinPath("tessera"), "status",
                        "--coordinator", cluster->coordinator_address()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {"w1", "w2", "w3", "ready", "stories260K"}) {
    EXPECT_TRUE(absl::StrContains(r.out, want)) << want << "\n" << r.out;
  }
}

}  // namespace
}  // namespace tessera
