// Shared by the distributed end-to-end suites (distributed_test.cc,
// distributed_security_test.cc): a fixture that starts three tessera-worker
// processes and a tessera-coordinator on loopback ports chosen at run time
// (coordinator::LocalCluster), and a client for one Generate call.
#ifndef TESSERA_TESTS_DISTRIBUTED_FIXTURE_H_
#define TESSERA_TESTS_DISTRIBUTED_FIXTURE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/testing/golden.h"
#include "coordinator/local_cluster.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tessera/v1/coordinator.pb.h"

namespace tessera {

// The outcome of one Generate call: its status, the streamed text and
// token ids, and the final response (finish reason, usage, timings).
struct Completion {
  absl::Status status;
  std::string text;
  std::vector<int32_t> tokens;
  v1::GenerateResponse last;
};

// Runs one Generate call against the coordinator at `address` with the
// join `token` ("" for none). `on_token(n, context)` is called after the
// n-th token (it may cancel the call through the context).
using TokenHook = std::function<void(int, grpc::ClientContext&)>;
Completion Generate(const std::string& address, const std::string& prompt,
                    int n, const std::string& token = "",
                    const TokenHook& on_token = nullptr);

// Loads the stories260K golden cases (skips, or fails under CI, when
// ../shared is missing) and starts clusters on request.
class DistributedTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Cluster options for stories260K with activation codec `codec`.
  coordinator::LocalClusterOptions Options(const std::string& codec = "f32");
  // Starts a cluster; a failure is a test failure and returns nullptr.
  std::unique_ptr<coordinator::LocalCluster> StartCluster(
      const coordinator::LocalClusterOptions& o);

  std::vector<testing::GoldenCase> golden_;
};

}  // namespace tessera

#endif  // TESSERA_TESTS_DISTRIBUTED_FIXTURE_H_
