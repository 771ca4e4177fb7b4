#include "worker/shard_runner.h"

#include "absl/synchronization/mutex.h"
#include "common/testing/golden.h"
#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "model/model_file.h"
#include "worker/reference_backend.h"
#include "worker/rpc_util.h"

namespace tessera::worker {
namespace {

// Collects published events; Wait() blocks until `n` have arrived.
class EventLog {
 public:
  void Add(const v1::WorkerEvent& event) {
    absl::MutexLock lock(&mutex_);
    events_.push_back(event);
  }
  std::vector<v1::WorkerEvent> Wait(size_t n) {
    absl::MutexLock lock(&mutex_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      return events_.size() >= n;
    };
    mutex_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    return events_;
  }

 private:
  absl::Mutex mutex_;
  std::vector<v1::WorkerEvent> events_ ABSL_GUARDED_BY(mutex_);
};

class ShardRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
    auto file = model::ModelFile::Open(testing::StoriesModelPath());
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = *std::move(file);
  }

  // A runner over layers [first, end) of stories260K on the reference
  // backend; the last stage when end == n_layers (no next link needed).
  std::unique_ptr<ShardRunner> MakeRunner(int64_t first, int64_t end,
                                          int64_t hang_after_steps = 0) {
    kernels::ShardSpec spec;
    spec.first_layer = first;
    spec.end_layer = end;
    spec.has_embedding = first == 0;
    spec.has_head = end == file_->config.n_layers;
    auto backend = std::make_unique<ReferenceBackend>(kernels::BackendOptions{});
    EXPECT_TRUE(backend->LoadShard(file_->weights, spec).ok());
    ShardRunnerConfig config;
    config.worker_name = "t";
    config.spec = spec;
    config.dim = file_->config.dim;
    config.vocab_size = file_->config.vocab_size;
    config.fault_hang_after_steps = hang_after_steps;
    return std::make_unique<ShardRunner>(
        config, std::move(backend), nullptr,
        [this](const v1::WorkerEvent& e) { log_.Add(e); });
  }

  static v1::ForwardFrame PromptFrame(uint64_t session,
                                      const std::vector<int32_t>& ids) {
    v1::ForwardFrame frame;
    frame.add_starts()->set_session_id(session);
    frame.mutable_starts(0)->set_prompt_tokens(static_cast<int>(ids.size()));
    for (size_t i = 0; i < ids.size(); ++i) {
      v1::FrameRow* row = frame.add_rows();
      row->set_session_id(session);
      row->set_position(static_cast<int>(i));
      row->set_token(ids[i]);
      row->set_want_output(i + 1 == ids.size());
    }
    return frame;
  }

  std::unique_ptr<model::ModelFile> file_;
  EventLog log_;
};

TEST_F(ShardRunnerTest, WholeModelSamplesTheGoldenFirstTokens) {
  auto cases = testing::LoadGoldenCases(testing::StoriesGoldenPath());
  ASSERT_TRUE(cases.ok());
  auto runner = MakeRunner(0, file_->config.n_layers);
  // Two sessions in separate frames: the runner may merge them.
  runner->Submit(PromptFrame(1, (*cases)[0].prompt_ids_with_bos), nullptr);
  runner->Submit(PromptFrame(2, (*cases)[1].prompt_ids_with_bos), nullptr);
  std::vector<v1::WorkerEvent> events = log_.Wait(2);
  ASSERT_EQ(events.size(), 2u);
  for (const v1::WorkerEvent& e : events) {
    ASSERT_TRUE(e.has_token());
    const auto& golden = (*cases)[e.token().session_id() - 1];
    const std::string first =
        file_->tokenizer->Decode(std::vector<int32_t>{e.token().token()});
    EXPECT_EQ(golden.continuation.substr(0, first.size()), first);
    EXPECT_EQ(e.token().position(),
              static_cast<int>(golden.prompt_ids_with_bos.size()) - 1);
  }
}

// A runner destroyed with frames still queued (its compute thread stalls in
// its second step) acknowledges them as refused, so that their sender fails
// the sessions instead of waiting for tokens that never come.
TEST_F(ShardRunnerTest, FramesQueuedAtShutdownAreRefused) {
  absl::Mutex mutex;
  std::vector<v1::ForwardAck> acks;
  std::shared_ptr<AckQueue> queue;
  queue = std::make_shared<AckQueue>(
      [&](const v1::ForwardAck* ack) {
        {
          absl::MutexLock lock(&mutex);
          acks.push_back(*ack);
        }
        queue->OnWriteDone(true);
      },
      [](const grpc::Status&) {});
  auto runner = MakeRunner(0, file_->config.n_layers, /*hang_after_steps=*/1);
  v1::ForwardFrame prompt = PromptFrame(1, {1, 5});
  prompt.set_sequence(1);
  runner->Submit(prompt, queue);
  ASSERT_EQ(log_.Wait(1).size(), 1u);
  for (int position = 2; position <= 4; ++position) {
    v1::ForwardFrame step;
    step.set_sequence(position);
    v1::FrameRow* row = step.add_rows();
    row->set_session_id(1);
    row->set_position(position);
    row->set_token(7);
    row->set_want_output(true);
    runner->Submit(step, queue);  // one session: one frame per step
  }
  absl::SleepFor(absl::Milliseconds(100));  // the second step stalls
  runner.reset();
  absl::MutexLock lock(&mutex);
  ASSERT_EQ(acks.size(), 4u);
  for (const v1::ForwardAck& ack : acks) {
    if (ack.sequence() <= 2) {
      EXPECT_EQ(ack.code(), 0) << ack.message();
      EXPECT_FALSE(ack.refused());
    } else {
      EXPECT_EQ(ack.code(), static_cast<int>(absl::StatusCode::kAborted));
      EXPECT_TRUE(ack.refused());
      EXPECT_NE(ack.message().find("unloaded"), std::string::npos);
    }
  }
}

TEST_F(ShardRunnerTest, CorruptFrameFailsOnlyItsSession) {
  auto runner = MakeRunner(2, file_->config.n_layers);
  auto frame_for = [&](uint64_t session) {
    v1::ForwardFrame frame = PromptFrame(session, {1});
    std::vector<float> hidden(file_->config.dim, 0.5f);
    auto encoded = EncodeActivations(hidden, 1, file_->config.dim, {});
    ToProto(*encoded, frame.mutable_activations());
    return frame;
  };
  v1::ForwardFrame bad = frame_for(7);
  (*bad.mutable_activations()->mutable_data())[3] ^= 1;
  runner->Submit(bad, nullptr);
  runner->Submit(frame_for(8), nullptr);
  std::vector<v1::WorkerEvent> events = log_.Wait(2);
  ASSERT_EQ(events.size(), 2u);
  for (const v1::WorkerEvent& e : events) {
    if (e.has_error()) {
      EXPECT_EQ(e.error().session_id(), 7u);
      EXPECT_EQ(e.error().code(), static_cast<int>(absl::StatusCode::kDataLoss));
    } else {
      ASSERT_TRUE(e.has_token());
      EXPECT_EQ(e.token().session_id(), 8u);
    }
  }
}

// One frame carrying two sessions (as merged upstream) in which one
// session's rows fail in the backend: only that session gets an error, and
// the other one's token is the one it gets alone.
TEST_F(ShardRunnerTest, FailingSessionOfAMergedFrameFailsAlone) {
  const int64_t dim = file_->config.dim;
  auto frame_of = [&](const std::vector<std::pair<uint64_t, int>>& rows) {
    v1::ForwardFrame frame;
    std::vector<float> hidden;
    for (const auto& [session, position] : rows) {
      if (position == 0) frame.add_starts()->set_session_id(session);
      v1::FrameRow* row = frame.add_rows();
      row->set_session_id(session);
      row->set_position(position);
      row->set_token(1);
      row->set_want_output(true);
      for (int64_t i = 0; i < dim; ++i) {
        hidden.push_back(0.01f * static_cast<float>((i * 7 + session) % 13));
      }
    }
    auto encoded = EncodeActivations(hidden, frame.rows_size(), dim, {});
    EXPECT_TRUE(encoded.ok());
    ToProto(*encoded, frame.mutable_activations());
    return frame;
  };
  auto alone = MakeRunner(2, file_->config.n_layers);
  alone->Submit(frame_of({{8, 0}}), nullptr);
  std::vector<v1::WorkerEvent> expected = log_.Wait(1);
  ASSERT_EQ(expected.size(), 1u);
  ASSERT_TRUE(expected[0].has_token());

  auto runner = MakeRunner(2, file_->config.n_layers);
  // Session 7 starts at position 5: its rows cannot run, session 8's can.
  v1::ForwardFrame merged = frame_of({{7, 5}, {8, 0}});
  merged.add_starts()->set_session_id(7);
  runner->Submit(merged, nullptr);
  std::vector<v1::WorkerEvent> events = log_.Wait(3);
  ASSERT_EQ(events.size(), 3u);
  int errors = 0, tokens = 0;
  for (size_t i = 1; i < events.size(); ++i) {
    if (events[i].has_error()) {
      ++errors;
      EXPECT_EQ(events[i].error().session_id(), 7u);
    } else {
      ++tokens;
      ASSERT_TRUE(events[i].has_token());
      EXPECT_EQ(events[i].token().session_id(), 8u);
      EXPECT_EQ(events[i].token().token(), expected[0].token().token());
    }
  }
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(tokens, 1);
}

// A release that arrives right behind the session's last rows (as after a
// client cancels) must not disturb those rows or other sessions.
TEST_F(ShardRunnerTest, ReleaseAppliesAfterTheRowsItFollows) {
  auto runner = MakeRunner(0, file_->config.n_layers);
  runner->Submit(PromptFrame(1, {1, 403, 407}), nullptr);
  std::vector<v1::WorkerEvent> events = log_.Wait(1);
  ASSERT_TRUE(events[0].has_token());
  v1::ForwardFrame decode;
  v1::FrameRow* row = decode.add_rows();
  row->set_session_id(1);
  row->set_position(3);
  row->set_token(events[0].token().token());
  row->set_want_output(true);
  v1::ForwardFrame next = PromptFrame(2, {1, 291});
  next.add_release_sessions(1);
  runner->Submit(decode, nullptr);
  runner->Submit(next, nullptr);
  events = log_.Wait(3);
  ASSERT_EQ(events.size(), 3u);
  for (const v1::WorkerEvent& e : events) {
    EXPECT_TRUE(e.has_token()) << e.error().message();
  }
  EXPECT_EQ(runner->active_sessions(), 1);  // session 1 released
}

TEST_F(ShardRunnerTest, RowsOfUnknownSessionsAreRefused) {
  auto runner = MakeRunner(0, file_->config.n_layers);
  v1::ForwardFrame frame = PromptFrame(5, {1, 2});
  frame.clear_starts();
  runner->Submit(frame, nullptr);
  std::vector<v1::WorkerEvent> events = log_.Wait(1);
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(events[0].has_error());
  EXPECT_EQ(events[0].error().code(),
            static_cast<int>(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace tessera::worker
