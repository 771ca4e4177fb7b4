// `tessera-coordinator --cluster FILE`: worker addresses, names, memory caps
// and (optionally) links come from a cluster textproto instead of
// --workers. Three worker processes on loopback; the coordinator under test
// is started by hand after the LocalCluster's own coordinator is stopped.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/mapped_file.h"
#include "common/testing/golden.h"
#include "common/testing/shared_data.h"
#include "coordinator/local_cluster.h"
#include "gtest/gtest.h"
#include "tessera/v1/coordinator.grpc.pb.h"
#include "tests/tool_runner.h"
#include "worker/rpc_util.h"

namespace tessera {
namespace {

using coordinator::ChildProcess;
using coordinator::LocalCluster;
using coordinator::LocalClusterOptions;

class CoordinatorClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
    auto cases = testing::LoadGoldenCases(testing::StoriesGoldenPath());
    ASSERT_TRUE(cases.ok()) << cases.status();
    golden_ = *cases;
    LocalClusterOptions o;
    o.bin_dir = TESSERA_BIN_DIR;
    o.work_dir = testing::TempDir();
    o.model_path = testing::StoriesModelPath();
    o.model_dir = testing::SharedPath("models");
    o.backend = "cpu";
    auto cluster = LocalCluster::Start(o);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    workers_ = *std::move(cluster);
    workers_->coordinator().Kill();  // only the workers are used
  }

  // A cluster file naming the three workers "phone-a", "phone-b", "pi";
  // `pi_extra` is added to the third device, `others` to the first two.
  std::string WriteClusterFile(const std::string& pi_extra,
                               const std::string& links = "",
                               const std::string& others = "") {
    const std::vector<std::string>& a = workers_->worker_addresses();
    std::string text = "name: 'loopback-lab'\n";
    const char* names[] = {"phone-a", "phone-b", "pi"};
    for (int i = 0; i < 3; ++i) {
      absl::StrAppend(&text, "devices { name: '", names[i], "' address: '",
                      a[i], "' ", i == 2 ? pi_extra : others, " }\n");
    }
    absl::StrAppend(&text, links);
    const std::string path =
        absl::StrCat(testing::TempDir(), "/cluster-", files_++, ".textproto");
    EXPECT_TRUE(WriteStringToFile(path, text).ok());
    return path;
  }

  // Starts the coordinator with `flags`; returns its address ("" on error).
  std::string StartCoordinator(const std::vector<std::string>& flags) {
    const std::string base =
        absl::StrCat(testing::TempDir(), "/cc-coordinator-", files_++);
    std::vector<std::string> argv = {
        testing::BinPath("tessera-coordinator"), "--listen", "127.0.0.1:0",
        "--model", testing::StoriesModelPath(), "--port-file", base + ".port"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto child = ChildProcess::Start(argv, base + ".log");
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return "";
    coordinator_ = *std::move(child);
    auto address = coordinator::WaitForFile(base + ".port", absl::Seconds(60));
    EXPECT_TRUE(address.ok()) << address.status() << "\n"
                              << coordinator::TailOfFile(base + ".log");
    return address.ok() ? *address : "";
  }

  v1::ClusterStatusResponse Status(const std::string& address) {
    auto stub = v1::CoordinatorService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    v1::ClusterStatusResponse status;
    auto context = worker::MakeContext("", absl::Seconds(10));
    EXPECT_TRUE(stub->ClusterStatus(context.get(), {}, &status).ok());
    return status;
  }

  void ExpectGolden(const std::string& address) {
    const testing::GoldenCase& g = golden_[0];
    testing::ToolResult r = testing::RunTool(
        {testing::BinPath("tessera"), "generate", "--coordinator", address,
         "--prompt", g.prompt, "-n", absl::StrCat(g.new_tokens), "--temp",
         "0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, g.continuation + "\n");
  }

  std::vector<testing::GoldenCase> golden_;
  std::unique_ptr<LocalCluster> workers_;
  std::unique_ptr<ChildProcess> coordinator_;
  static inline int files_ = 0;  // unique names across tests
};

// The third device's budget in the file is far below one layer, so the
// partitioner must leave it out, whatever the worker itself would accept.
TEST_F(CoordinatorClusterTest, MeasuredPlanHonoursTheFilesBudgets) {
  const std::string address = StartCoordinator(
      {"--cluster", WriteClusterFile("memory_budget_bytes: 4096")});
  ASSERT_FALSE(address.empty());
  ExpectGolden(address);
  v1::ClusterStatusResponse status = Status(address);
  EXPECT_TRUE(absl::StrContains(status.planner(), "partitioner"))
      << status.planner();
  ASSERT_GE(status.stages_size(), 1);
  for (const v1::StageStatus& s : status.stages()) {
    EXPECT_NE(s.address(), workers_->worker_addresses()[2]) << "over budget";
  }
}

// With declared links the planner reads the file. Budgets of 800 kB (the
// model needs about 1.3 MB with its KV cache) force several stages, and
// the link between the phones is slow, so no stage may hand over on it.
TEST_F(CoordinatorClusterTest, DeclaredLinksAreUsedAsWritten) {
  const std::string links =
      "default_link { latency_ms: 0.05 bandwidth_bytes_per_s: 1e9 }\n"
      "links { from: 'phone-a' to: 'phone-b' latency_ms: 500 "
      "bandwidth_bytes_per_s: 1e3 both_directions: true }\n";
  const std::string budget = "memory_budget_bytes: 800000";
  const std::string path = WriteClusterFile(budget, links, budget);
  const std::string address =
      StartCoordinator({"--cluster", path, "--links", "declared"});
  ASSERT_FALSE(address.empty());
  ExpectGolden(address);
  v1::ClusterStatusResponse status = Status(address);
  ASSERT_TRUE(absl::StrContains(status.planner(), "partitioner"))
      << status.planner();
  ASSERT_GE(status.stages_size(), 2);
  const std::vector<std::string>& a = workers_->worker_addresses();
  for (int i = 0; i + 1 < status.stages_size(); ++i) {
    const std::string& from = status.stages(i).address();
    const std::string& to = status.stages(i + 1).address();
    EXPECT_FALSE((from == a[0] && to == a[1]) || (from == a[1] && to == a[0]))
        << "stage " << i << " uses the slow link";
  }
}

TEST_F(CoordinatorClusterTest, BadFlagsAndFilesGiveClearErrors) {
  const std::string coordinator = testing::BinPath("tessera-coordinator");
  const std::string model = testing::StoriesModelPath();
  const std::string good = WriteClusterFile("");
  struct Case {
    std::vector<std::string> flags;
    const char* expected;
  };
  const std::string bad = absl::StrCat(testing::TempDir(), "/bad.textproto");
  ASSERT_TRUE(WriteStringToFile(bad, "devices { name: 'x' }\n").ok());
  const Case cases[] = {
      {{}, "exactly one of --workers"},
      {{"--cluster", good, "--workers", "127.0.0.1:1"}, "exactly one of"},
      {{"--cluster", bad}, "devices[0] (x).address: expected HOST:PORT"},
      {{"--cluster", "/nonexistent.textproto"}, "/nonexistent.textproto"},
      {{"--workers", workers_->worker_addresses()[0], "--links", "declared"},
       "declared links need a cluster file"},
      {{"--cluster", good, "--links", "guessed"}, "unknown link source"},
      {{"--workers", absl::StrCat(workers_->worker_addresses()[0], ",",
                                  workers_->worker_addresses()[0])},
       "is listed twice"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {coordinator, "--model", model};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    testing::ToolResult r = testing::RunTool(argv);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, c.expected))
        << c.expected << "\n" << r.err;
  }
}

// Workers started with --coordinator register; the coordinator started
// with --expect-workers forms the cluster from them. Before they arrive,
// requests get a clear UNAVAILABLE.
TEST_F(CoordinatorClusterTest, ClusterFormsFromRegistrations) {
  const std::string address =
      StartCoordinator({"--expect-workers", "2", "--register-timeout", "60"});
  ASSERT_FALSE(address.empty());
  testing::ToolResult early = testing::RunTool(
      {testing::BinPath("tessera"), "generate", "--coordinator", address,
       "--prompt", "Hi", "-n", "2"});
  EXPECT_NE(early.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(early.err, "the cluster is forming: 0 of 2"))
      << early.err;
  std::vector<std::unique_ptr<ChildProcess>> joined;
  for (const char* name : {"r1", "r2"}) {
    const std::string base =
        absl::StrCat(testing::TempDir(), "/cc-", name, "-", files_++);
    auto child = ChildProcess::Start(
        {testing::BinPath("tessera-worker"), "--listen", "127.0.0.1:0",
         "--model-dir", testing::SharedPath("models"), "--name", name,
         "--backend", "cpu", "--coordinator", address, "--profile-cache",
         base + ".profile"},
        base + ".log");
    ASSERT_TRUE(child.ok()) << child.status();
    joined.push_back(*std::move(child));
  }
  // Serving once ClusterStatus answers.
  v1::ClusterStatusResponse status;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    auto stub = v1::CoordinatorService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    auto context = worker::MakeContext("", absl::Seconds(5));
    if (stub->ClusterStatus(context.get(), {}, &status).ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GE(status.stages_size(), 1) << "the cluster never formed";
  for (const v1::StageStatus& s : status.stages()) {
    EXPECT_TRUE(s.worker_name() == "r1" || s.worker_name() == "r2")
        << s.worker_name();
  }
  ExpectGolden(address);
}

TEST_F(CoordinatorClusterTest, TooFewRegistrationsFailClearly) {
  testing::ToolResult r = testing::RunTool(
      {testing::BinPath("tessera-coordinator"), "--model",
       testing::StoriesModelPath(), "--expect-workers", "1",
       "--register-timeout", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "only 0 of 1 workers registered"))
      << r.err;
}

}  // namespace
}  // namespace tessera
