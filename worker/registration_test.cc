#include "worker/registration.h"

#include <atomic>
#include <string>

#include "gtest/gtest.h"
#include "tessera/v1/coordinator.grpc.pb.h"
#include "worker/server.h"

namespace tessera::worker {
namespace {

TEST(AdvertisedAddressTest, ExplicitWinsAndWildcardsNeedOne) {
  EXPECT_EQ(*AdvertisedAddress("pi.lan:7070", "0.0.0.0:7070"), "pi.lan:7070");
  EXPECT_EQ(*AdvertisedAddress("", "192.168.1.5:7070"), "192.168.1.5:7070");
  for (const char* wildcard : {"0.0.0.0:7070", "[::]:7070"}) {
    absl::StatusOr<std::string> a = AdvertisedAddress("", wildcard);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(a.status().message().find("--advertise"), std::string::npos);
  }
}

// A coordinator that answers the first `unavailable` calls with
// UNAVAILABLE, then accepts or refuses.
class FakeCoordinator final : public v1::CoordinatorService::CallbackService {
 public:
  FakeCoordinator(int unavailable, bool accept)
      : unavailable_(unavailable), accept_(accept) {}
  grpc::ServerUnaryReactor* RegisterWorker(
      grpc::CallbackServerContext* context,
      const v1::RegisterWorkerRequest* request,
      v1::RegisterWorkerResponse* response) override {
    auto* reactor = context->DefaultReactor();
    last_address_ = request->address();
    if (calls_.fetch_add(1) < unavailable_) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "busy"));
      return reactor;
    }
    response->set_accepted(accept_);
    response->set_message(accept_ ? "welcome" : "protocol 9 only");
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  int calls() const { return calls_.load(); }
  std::string last_address_;

 private:
  const int unavailable_;
  const bool accept_;
  std::atomic<int> calls_{0};
};

RegistrationOptions Options(const std::string& coordinator) {
  RegistrationOptions o;
  o.coordinator = coordinator;
  o.name = "w1";
  o.address = "127.0.0.1:7070";
  o.retry_for = absl::Seconds(5);
  o.first_backoff = absl::Milliseconds(10);
  o.max_backoff = absl::Milliseconds(50);
  return o;
}

TEST(RegistrationTest, RetriesUntilAccepted) {
  FakeCoordinator fake(/*unavailable=*/2, /*accept=*/true);
  auto server = StartServer("127.0.0.1:0", {}, &fake);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(RegisterWithCoordinator(Options(server->address)).ok());
  EXPECT_EQ(fake.calls(), 3);
  EXPECT_EQ(fake.last_address_, "127.0.0.1:7070");
}

TEST(RegistrationTest, ARefusalIsNotRetried) {
  FakeCoordinator fake(0, /*accept=*/false);
  auto server = StartServer("127.0.0.1:0", {}, &fake);
  ASSERT_TRUE(server.ok()) << server.status();
  absl::Status s = RegisterWithCoordinator(Options(server->address));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("protocol 9 only"), std::string::npos) << s;
  EXPECT_EQ(fake.calls(), 1);
}

TEST(RegistrationTest, GivesUpOnAnUnreachableCoordinator) {
  RegistrationOptions o = Options("127.0.0.1:1");  // nothing listens there
  o.retry_for = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  absl::Status s = RegisterWithCoordinator(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("127.0.0.1:1"), std::string::npos) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
}

}  // namespace
}  // namespace tessera::worker
