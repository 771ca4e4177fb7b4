// End-to-end security of the distributed runtime: the join token is checked
// on registration and on every worker call, and with --tls-cert/--tls-key/
// --tls-ca every connection is mutual TLS (plaintext and certificate-less
// clients are refused).
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/shared_data.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tessera/v1/worker.grpc.pb.h"
#include "tests/distributed_fixture.h"
#include "tests/tool_runner.h"
#include "worker/rpc_util.h"

namespace tessera {
namespace {

using coordinator::LocalClusterOptions;

TEST_F(DistributedTest, JoinTokenIsChecked) {
  LocalClusterOptions o = Options("f32");
  o.token = "s3cret";
  auto cluster = StartCluster(o);
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(Generate(cluster->coordinator_address(), "Hi", 5).status.code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      Generate(cluster->coordinator_address(), "Hi", 5, "wrong").status.code(),
      absl::StatusCode::kUnauthenticated);
  auto stub = v1::WorkerService::NewStub(grpc::CreateChannel(
      cluster->worker_addresses()[0], grpc::InsecureChannelCredentials()));
  v1::HandshakeRequest hello;
  hello.set_protocol_version(worker::kProtocolVersion);
  v1::HandshakeResponse reply;
  auto context = worker::MakeContext("wrong", absl::Seconds(10));
  EXPECT_EQ(stub->Handshake(context.get(), hello, &reply).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  Completion c = Generate(cluster->coordinator_address(), golden_[0].prompt,
                          static_cast<int>(golden_[0].new_tokens), "s3cret");
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.text, golden_[0].continuation);
}

// Workers refuse messages over --max-message-mb before anything reads them
// (a peer without the token cannot make a worker hold a 2 GiB body), while
// generation, whose frames are far smaller, works.
TEST_F(DistributedTest, OversizedMessagesAreRefused) {
  LocalClusterOptions o = Options("f32");
  o.extra_worker_flags = {"--max-message-mb", "1"};
  auto cluster = StartCluster(o);
  ASSERT_NE(cluster, nullptr);
  auto stub = v1::WorkerService::NewStub(grpc::CreateChannel(
      cluster->worker_addresses()[1], grpc::InsecureChannelCredentials()));
  v1::LinkProbeRequest probe;
  probe.set_payload(std::string(2 << 20, 'x'));
  v1::LinkProbeResponse echo;
  auto context = worker::MakeContext("", absl::Seconds(10));
  EXPECT_EQ(stub->LinkProbe(context.get(), probe, &echo).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  Completion c = Generate(cluster->coordinator_address(), golden_[0].prompt,
                          static_cast<int>(golden_[0].new_tokens));
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.text, golden_[0].continuation);
}

// A throwaway CA and one certificate for 127.0.0.1 signed by it, used by
// every node and client (made with the openssl tool).
struct TestPki {
  std::string ca, cert, key;
};

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir) {
  const std::string openssl = "/usr/bin/openssl";
  TestPki pki{dir + "/ca.pem", dir + "/node.pem", dir + "/node.key"};
  const std::string ext = dir + "/san.cnf";
  std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  const std::vector<std::vector<std::string>> steps = {
      {openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
       dir + "/ca.key", "-out", pki.ca, "-days", "2", "-subj", "/CN=test-ca"},
      {openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", pki.key,
       "-out", dir + "/node.csr", "-subj", "/CN=localhost"},
      {openssl, "x509", "-req", "-in", dir + "/node.csr", "-CA", pki.ca,
       "-CAkey", dir + "/ca.key", "-CAcreateserial", "-out", pki.cert,
       "-days", "2", "-extfile", ext}};
  for (const auto& argv : steps) {
    testing::ToolResult r = testing::RunTool(argv);
    if (r.exit_code != 0) return absl::InternalError(r.err);
  }
  return pki;
}

TEST_F(DistributedTest, MutualTlsOnEveryConnection) {
  if (!testing::FileExists("/usr/bin/openssl")) {
    GTEST_SKIP() << "the openssl tool is needed to make test certificates";
  }
  auto pki = MakeTestPki(testing::TempDir());
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::vector<std::string> tls = {"--tls-cert", pki->cert, "--tls-key",
                                        pki->key, "--tls-ca", pki->ca};
  LocalClusterOptions o = Options("f32");
  o.extra_worker_flags = tls;
  o.extra_coordinator_flags = tls;
  auto cluster = StartCluster(o);
  ASSERT_NE(cluster, nullptr);
  const testing::GoldenCase& g = golden_[0];
  std::vector<std::string> argv = {
      testing::BinPath("tessera"), "generate", "--coordinator",
      cluster->coordinator_address(), "--prompt", g.prompt, "-n",
      absl::StrCat(g.new_tokens), "--timeout", "20"};
  std::vector<std::string> with_tls = argv;
  with_tls.insert(with_tls.end(), tls.begin(), tls.end());
  testing::ToolResult r = testing::RunTool(with_tls);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, g.continuation + "\n");
  // Plaintext, and TLS without a client certificate, are both refused.
  EXPECT_NE(testing::RunTool(argv).exit_code, 0);
  std::vector<std::string> no_client_cert = argv;
  no_client_cert.insert(no_client_cert.end(), {"--tls-ca", pki->ca});
  EXPECT_NE(testing::RunTool(no_client_cert).exit_code, 0);
}

}  // namespace
}  // namespace tessera
