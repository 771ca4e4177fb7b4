#include "worker/stage_link.h"

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "worker/server.h"

namespace tessera::worker {
namespace {

// A next stage that answers each frame as told: acknowledges it, refuses
// it as a whole, fails it as a stage that reported its sessions itself, or
// ends the stream without an answer.
class FakeStage final : public v1::WorkerService::Service {
 public:
  enum class Answer { kOk, kRefuse, kFailReported, kEndStream };

  void set_answers(std::vector<Answer> answers) {
    absl::MutexLock lock(&mutex_);
    answers_ = std::move(answers);
  }
  std::vector<uint64_t> sequences() const {
    absl::MutexLock lock(&mutex_);
    return sequences_;
  }

  grpc::Status Forward(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::ForwardAck, v1::ForwardFrame>* stream)
      override {
    v1::ForwardFrame frame;
    while (stream->Read(&frame)) {
      Answer answer;
      {
        absl::MutexLock lock(&mutex_);
        answer = sequences_.size() < answers_.size()
                     ? answers_[sequences_.size()]
                     : Answer::kOk;
        sequences_.push_back(frame.sequence());
      }
      if (answer == Answer::kEndStream) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
      }
      v1::ForwardAck ack;
      ack.set_sequence(frame.sequence());
      if (answer != Answer::kOk) {
        ack.set_code(static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
        ack.set_message("worker w2: no shard loaded");
        ack.set_refused(answer == Answer::kRefuse);
      }
      stream->Write(ack);
    }
    return grpc::Status::OK;
  }

 private:
  mutable absl::Mutex mutex_;
  std::vector<Answer> answers_ ABSL_GUARDED_BY(mutex_);
  std::vector<uint64_t> sequences_ ABSL_GUARDED_BY(mutex_);
};

// What the link reported through on_refused and on_broken.
class Reports {
 public:
  void Configure(StageLink::Options& options) {
    options.on_refused = [this](const absl::Status& s,
                                const std::vector<uint64_t>& sessions) {
      Add(refused_, s, sessions);
    };
    options.on_broken = [this](const absl::Status& s,
                               const std::vector<uint64_t>& sessions) {
      Add(broken_, s, sessions);
    };
  }
  struct Report {
    absl::Status status;
    std::vector<uint64_t> sessions;
  };
  // Waits (up to 10 s) until there are `n` refused and `m` broken reports.
  bool WaitFor(size_t n, size_t m) {
    absl::MutexLock lock(&mutex_);
    auto enough = [&] { return refused_.size() >= n && broken_.size() >= m; };
    mutex_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return enough();
  }
  std::vector<Report> refused() {
    absl::MutexLock lock(&mutex_);
    return refused_;
  }
  std::vector<Report> broken() {
    absl::MutexLock lock(&mutex_);
    return broken_;
  }

 private:
  void Add(std::vector<Report>& to, const absl::Status& s,
           const std::vector<uint64_t>& sessions) {
    absl::MutexLock lock(&mutex_);
    to.push_back({s, sessions});
  }
  absl::Mutex mutex_;
  std::vector<Report> refused_ ABSL_GUARDED_BY(mutex_);
  std::vector<Report> broken_ ABSL_GUARDED_BY(mutex_);
};

// Waits (up to 2 s) until `stage` has received `n` frames.
void WaitForFrames(const FakeStage& stage, size_t n) {
  for (int i = 0; i < 200 && stage.sequences().size() < n; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
}

v1::ForwardFrame Frame(std::vector<uint64_t> row_sessions,
                       std::vector<uint64_t> start_sessions = {}) {
  v1::ForwardFrame frame;
  for (uint64_t id : row_sessions) frame.add_rows()->set_session_id(id);
  for (uint64_t id : start_sessions) frame.add_starts()->set_session_id(id);
  return frame;
}

std::unique_ptr<StageLink> MakeLink(const std::string& address,
                                    Reports& reports) {
  StageLink::Options options;
  options.peer_name = "worker w2";
  reports.Configure(options);
  return std::make_unique<StageLink>(
      MakeChannel(address, *MakeChannelCredentials({})), std::move(options));
}

using Answer = FakeStage::Answer;

// A link to a FakeStage that answers as told, reporting into `reports`.
class StageLinkTest : public ::testing::Test {
 protected:
  void Start(std::vector<Answer> answers) {
    stage.set_answers(std::move(answers));
    auto started = StartServer("127.0.0.1:0", {}, &stage);
    ASSERT_TRUE(started.ok()) << started.status();
    server = *std::move(started);
    link = MakeLink(server.address, reports);
  }

  FakeStage stage;
  RunningServer server;
  Reports reports;
  std::unique_ptr<StageLink> link;  // destroyed first
};

TEST_F(StageLinkTest, ARefusedFrameReportsItsSessionsOnce) {
  ASSERT_NO_FATAL_FAILURE(
      Start({Answer::kOk, Answer::kRefuse, Answer::kFailReported}));
  link->Send(Frame({1}));
  // Sent one by one so that the link does not merge them.
  WaitForFrames(stage, 1);
  link->Send(Frame({7, 9, 7}, {11}));
  WaitForFrames(stage, 2);
  link->Send(Frame({5}));  // failed, but the stage reported it itself
  ASSERT_TRUE(reports.WaitFor(1, 0));
  WaitForFrames(stage, 3);
  absl::SleepFor(absl::Milliseconds(50));  // for a wrong report to show
  link.reset();  // closing the link reports nothing
  const std::vector<Reports::Report> refused = reports.refused();
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].sessions, (std::vector<uint64_t>{7, 9, 11}));
  EXPECT_EQ(refused[0].status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused[0].status.message(), "worker w2: no shard loaded");
  EXPECT_TRUE(reports.broken().empty());
  EXPECT_EQ(stage.sequences(), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(StageLinkTest, AStreamThatEndsReportsTheFramesNotAcknowledged) {
  ASSERT_NO_FATAL_FAILURE(Start({Answer::kOk, Answer::kEndStream}));
  link->Send(Frame({1}));
  WaitForFrames(stage, 1);
  link->Send(Frame({2, 3}));
  ASSERT_TRUE(reports.WaitFor(0, 1));
  const std::vector<Reports::Report> broken = reports.broken();
  ASSERT_EQ(broken.size(), 1u);
  EXPECT_EQ(broken[0].sessions, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(broken[0].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(broken[0].status.message().find("stream to worker w2 is broken"),
            std::string::npos)
      << broken[0].status;
  EXPECT_NE(broken[0].status.message().find("shutting down"),
            std::string::npos)
      << broken[0].status;
  // The next frame opens a new stream, which the stage acknowledges.
  link->Send(Frame({4}));
  WaitForFrames(stage, 3);
  EXPECT_EQ(stage.sequences().size(), 3u);
  link.reset();
  EXPECT_EQ(reports.broken().size(), 1u);
}

TEST_F(StageLinkTest, APeerThatIsGoneLosesEveryFrame) {
  // A port that was bound once and is closed now.
  std::string address;
  {
    auto gone = StartServer("127.0.0.1:0", {}, &stage);
    ASSERT_TRUE(gone.ok()) << gone.status();
    address = gone->address;
    gone->server->Shutdown();
  }
  link = MakeLink(address, reports);
  link->Send(Frame({8}));
  ASSERT_TRUE(reports.WaitFor(0, 1));
  EXPECT_EQ(reports.broken()[0].sessions, (std::vector<uint64_t>{8}));
  EXPECT_EQ(reports.broken()[0].status.code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tessera::worker
