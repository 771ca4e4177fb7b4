// End to end: an emulated cluster in network-namespace mode (sim/netns.h,
// sim/emulated_cluster.h) on stories260K. Greedy output through the
// namespaces, the bridge and the shaped veths equals the golden text; a
// worker measuring its link to another one sees the shaped bandwidth and
// the emulated latency; `tessera-sim run --network netns` says which mode
// and plan it used and leaves no namespace behind. Needs root and a working
// `ip netns`: skipped (with the reason) otherwise.
//
// Also in loopback mode (no root needed): emulated workers report the
// emulated device's speed and measure the emulated link.
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "common/testing/golden.h"
#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "sim/cluster_config.h"
#include "sim/emulated_cluster.h"
#include "sim/netns.h"
#include "tessera/v1/coordinator.grpc.pb.h"
#include "tessera/v1/worker.grpc.pb.h"
#include "tests/tool_runner.h"
#include "worker/rpc_util.h"

namespace tessera {
namespace {

// Two devices at the host's speed; 40 Mbit/s links with 2 ms latency.
constexpr double kBandwidthBytesPerS = 5e6;
constexpr double kLatencyMs = 2;
constexpr char kCluster[] = R"pb(
  devices {
    name: "dev-a"
    backend: "cpu"
    memory_budget_bytes: 1073741824
    perf {
      format: TENSOR_FORMAT_F32
      decode_bytes_per_s: 1e12
      prefill_flop_per_s: 1e12
    }
  }
  devices {
    name: "dev-b"
    backend: "cpu"
    memory_budget_bytes: 1073741824
    perf {
      format: TENSOR_FORMAT_F32
      decode_bytes_per_s: 1e12
      prefill_flop_per_s: 1e12
    }
  }
  default_link { latency_ms: 2 bandwidth_bytes_per_s: 5e6 }
)pb";

std::string Generate(const std::string& address, const std::string& prompt,
                     int n, absl::Status& status) {
  auto stub = v1::CoordinatorService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::GenerateRequest request;
  request.set_prompt(prompt);
  request.set_max_new_tokens(n);
  auto context = worker::MakeContext("", absl::Seconds(60));
  auto reader = stub->Generate(context.get(), request);
  std::string text;
  v1::GenerateResponse response;
  while (reader->Read(&response)) text += response.text();
  status = worker::ToAbsl(reader->Finish());
  return text;
}

absl::StatusOr<v1::MeasureLinkResponse> MeasureLink(const std::string& from,
                                                    const std::string& to) {
  auto stub = v1::WorkerService::NewStub(
      grpc::CreateChannel(from, grpc::InsecureChannelCredentials()));
  v1::MeasureLinkRequest request;
  request.set_peer_address(to);
  request.set_round_trips(9);
  request.set_payload_bytes(1 << 20);
  auto context = worker::MakeContext("", absl::Seconds(30));
  v1::MeasureLinkResponse response;
  TESSERA_RETURN_IF_ERROR(
      worker::ToAbsl(stub->MeasureLink(context.get(), request, &response)));
  return response;
}

// The namespaces still present whose names start with `prefix`.
std::vector<std::string> LeftoverNamespaces(const std::string& prefix) {
  std::vector<std::string> left;
  auto listed = sim::RunCommand({sim::kIpTool, "netns", "list"});
  if (!listed.ok()) return {"(ip netns list failed)"};
  for (absl::string_view line : absl::StrSplit(*listed, '\n')) {
    if (absl::StartsWith(line, prefix)) left.emplace_back(line);
  }
  return left;
}

class SimNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
    absl::Status usable = sim::CheckNetnsUsable(sim::RunCommand);
    if (!usable.ok()) {
      GTEST_SKIP() << "network namespaces unusable here: " << usable.message();
    }
    auto cases = testing::LoadGoldenCases(testing::StoriesGoldenPath());
    ASSERT_TRUE(cases.ok()) << cases.status();
    golden_ = (*cases)[0];
  }

  testing::GoldenCase golden_;
};

TEST_F(SimNetnsTest, GoldenOutputAndShapedLinkThroughNamespaces) {
  sim::EmulatedClusterOptions o;
  auto cluster = sim::ParseSimCluster(kCluster, "test");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  o.cluster = *cluster;
  o.bin_dir = TESSERA_BIN_DIR;
  o.work_dir = testing::TempDir();
  o.model_path = testing::StoriesModelPath();
  o.planner = "even";  // both devices take part
  o.network = sim::NetworkMode::kNetns;
  o.host_bytes_per_s = 1;  // no slowdown
  {
    auto emulated = sim::EmulatedCluster::Start(o);
    ASSERT_TRUE(emulated.ok()) << emulated.status();
    std::cerr << "mode: " << (*emulated)->mode() << "\n";
    EXPECT_TRUE(absl::StartsWith((*emulated)->mode(), "network namespaces"));
    coordinator::LocalCluster& processes = (*emulated)->processes();
    const std::string subnet = (*emulated)->netns_layout()->subnet.Address(0);
    for (const std::string& address : processes.worker_addresses()) {
      EXPECT_TRUE(
          absl::StartsWith(address, subnet.substr(0, subnet.size() - 1)))
          << address << " is not in the namespaces' subnet";
    }
    absl::Status status;
    const std::string text =
        Generate(processes.coordinator_address(), golden_.prompt,
                 static_cast<int>(golden_.new_tokens), status);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(text, golden_.continuation);

    auto link = MeasureLink(processes.worker_addresses()[0],
                            processes.worker_addresses()[1]);
    ASSERT_TRUE(link.ok()) << link.status();
    std::cerr << "measured: round trip " << link->latency_us() / 1000 << " ms, "
              << link->bytes_per_second() / 1e6
              << " MB/s; shaped: " << kBandwidthBytesPerS / 1e6
              << " MB/s, one-way latency " << kLatencyMs << " ms\n";
    EXPECT_GT(link->bytes_per_second(), kBandwidthBytesPerS / 2);
    EXPECT_LT(link->bytes_per_second(), kBandwidthBytesPerS * 1.6);
    EXPECT_GT(link->latency_us(), 2 * kLatencyMs * 1000 * 0.9);
    EXPECT_LT(link->latency_us(), 2 * kLatencyMs * 1000 + 20000);
  }
  EXPECT_TRUE(LeftoverNamespaces(absl::StrCat("ts", getpid(), "w")).empty());
}

TEST_F(SimNetnsTest, RunCommandPrintsModeAndPlanAndCleansUp) {
  const std::string cluster_file =
      testing::TempDir() + "/netns_cluster.textproto";
  ASSERT_TRUE(WriteStringToFile(cluster_file, kCluster).ok());
  testing::ToolResult r = testing::RunTool(
      {testing::BinPath("tessera-sim"), "run", "--cluster", cluster_file,
       "--model", testing::StoriesModelPath(), "--work-dir",
       testing::TempDir() + "/run", "--network", "netns", "--planner", "even",
       "--prompt", golden_.prompt, "-n", absl::StrCat(golden_.new_tokens)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, golden_.continuation)) << r.out;
  EXPECT_TRUE(
      absl::StrContains(r.err, "mode: network namespaces (bandwidth: tc"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "plan (planner: even split): 2 stages"))
      << r.err;
  // The emulation table names the namespaces ("netns ts<pid>w1 10...").
  const size_t at = r.err.find("netns ts");
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string first =
      r.err.substr(at + 6, r.err.find(' ', at + 6) - at - 6);
  ASSERT_TRUE(absl::EndsWith(first, "w1")) << first;
  EXPECT_TRUE(LeftoverNamespaces(first.substr(0, first.size() - 1)).empty());
  EXPECT_FALSE(absl::StrContains(r.err, "removing the emulated network"))
      << r.err;
}

// Without namespaces too (no root needed), workers report what they
// emulate: profiles at the device's speed, probes through the emulated link.
TEST(SimLoopbackTest, WorkersReportTheEmulatedDeviceAndLink) {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
  sim::EmulatedClusterOptions o;
  auto cluster = sim::ParseSimCluster(kCluster, "test");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  o.cluster = *cluster;
  o.bin_dir = TESSERA_BIN_DIR;
  o.work_dir = testing::TempDir() + "/loopback";
  std::filesystem::create_directories(o.work_dir);
  o.model_path = testing::StoriesModelPath();
  o.planner = "even";
  o.network = sim::NetworkMode::kLoopback;
  o.host_bytes_per_s = 4e12;  // each device 4x slower than the host
  auto emulated = sim::EmulatedCluster::Start(o);
  ASSERT_TRUE(emulated.ok()) << emulated.status();
  const std::vector<std::string>& workers =
      (*emulated)->processes().worker_addresses();

  auto stub = v1::WorkerService::NewStub(
      grpc::CreateChannel(workers[0], grpc::InsecureChannelCredentials()));
  auto context = worker::MakeContext("", absl::Seconds(30));
  v1::ProfileResponse profile;
  ASSERT_TRUE(stub->Profile(context.get(), {}, &profile).ok());
  // The coordinator's profile call cached the host's real figures.
  auto text = ReadFileToString(o.work_dir + "/profile-w1.txt");
  ASSERT_TRUE(text.ok()) << text.status();
  v1::ProfileResponse real;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(*text, &real));
  ASSERT_GT(profile.benchmarks_size(), 0);
  ASSERT_EQ(profile.benchmarks_size(), real.benchmarks_size());
  EXPECT_NEAR(real.benchmarks(0).decode_bytes_per_second() /
                  profile.benchmarks(0).decode_bytes_per_second(),
              4, 1e-6);
  EXPECT_EQ(profile.emulated_slowdown(), 4);

  auto link = MeasureLink(workers[0], workers[1]);
  ASSERT_TRUE(link.ok()) << link.status();
  std::cerr << "loopback measured: round trip " << link->latency_us() / 1000
            << " ms, " << link->bytes_per_second() / 1e6 << " MB/s\n";
  EXPECT_GT(link->bytes_per_second(), kBandwidthBytesPerS / 2);
  EXPECT_LT(link->bytes_per_second(), kBandwidthBytesPerS * 1.6);
  EXPECT_GT(link->latency_us(), 2 * kLatencyMs * 1000 * 0.9);
}

}  // namespace
}  // namespace tessera
