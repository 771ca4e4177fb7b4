#include "tests/distributed_fixture.h"

#include "common/testing/shared_data.h"
#include "grpcpp/create_channel.h"
#include "tessera/v1/coordinator.grpc.pb.h"
#include "worker/rpc_util.h"

namespace tessera {

Completion Generate(const std::string& address, const std::string& prompt,
                    int n, const std::string& token,
                    const TokenHook& on_token) {
  auto stub = v1::CoordinatorService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::GenerateRequest request;
  request.set_prompt(prompt);
  request.set_max_new_tokens(n);
  auto context = worker::MakeContext(token, absl::Seconds(120));
  auto reader = stub->Generate(context.get(), request);
  Completion c;
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
    c.text += response.text();
    for (int32_t id : response.token_ids()) {
      c.tokens.push_back(id);
      if (on_token) on_token(static_cast<int>(c.tokens.size()), *context);
    }
    if (response.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      c.last = response;
    }
  }
  c.status = worker::ToAbsl(reader->Finish());
  return c;
}

void DistributedTest::SetUp() {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
  auto cases = testing::LoadGoldenCases(testing::StoriesGoldenPath());
  ASSERT_TRUE(cases.ok()) << cases.status();
  golden_ = *cases;
}

coordinator::LocalClusterOptions DistributedTest::Options(
    const std::string& codec) {
  coordinator::LocalClusterOptions o;
  o.bin_dir = TESSERA_BIN_DIR;
  o.work_dir = testing::TempDir();
  o.model_path = testing::StoriesModelPath();
  o.model_dir = testing::SharedPath("models");
  o.codec = codec;
  return o;
}

std::unique_ptr<coordinator::LocalCluster> DistributedTest::StartCluster(
    const coordinator::LocalClusterOptions& o) {
  auto cluster = coordinator::LocalCluster::Start(o);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

}  // namespace tessera
