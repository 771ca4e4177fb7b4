#include "kernels/opencl_batch_plan.h"

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"

namespace tessera::kernels {
namespace {

class BatchPlanTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::vector<SessionRun>> Plan(const Batch& batch) {
    return PlanBatch(batch, limits_, [this](uint64_t id) {
      auto it = lengths_.find(id);
      return it == lengths_.end() ? int64_t{0} : it->second;
    });
  }
  static Batch Rows(std::vector<std::pair<uint64_t, int32_t>> rows) {
    Batch batch;
    for (auto [id, pos] : rows) batch.rows.push_back({id, pos, 1, true});
    return batch;
  }

  BatchLimits limits_{4, true, 10, 16};
  absl::flat_hash_map<uint64_t, int64_t> lengths_ = {{7, 3}};
};

TEST_F(BatchPlanTest, GroupsContiguousSessions) {
  auto runs = Plan(Rows({{1, 0}, {1, 1}, {7, 3}, {2, 0}}));
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[0].session_id, 1u);
  EXPECT_EQ((*runs)[0].rows, 2);
  EXPECT_EQ((*runs)[1].row_begin, 2);
  EXPECT_EQ((*runs)[1].pos0, 3);
  EXPECT_EQ((*runs)[2].row_begin, 3);
}

TEST_F(BatchPlanTest, RestartAtZeroIsAllowed) {
  auto runs = Plan(Rows({{7, 0}, {7, 1}}));
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_EQ((*runs)[0].pos0, 0);
}

TEST_F(BatchPlanTest, RejectsMalformedBatches) {
  EXPECT_TRUE(absl::IsInvalidArgument(Plan(Batch()).status()));
  // Session 1 appears twice, separated by session 2.
  EXPECT_TRUE(
      absl::IsInvalidArgument(Plan(Rows({{1, 0}, {2, 0}, {1, 1}})).status()));
  // Positions not consecutive, or not continuing the cache.
  EXPECT_TRUE(absl::IsInvalidArgument(Plan(Rows({{1, 0}, {1, 2}})).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Plan(Rows({{7, 5}})).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Plan(Rows({{1, -1}})).status()));
  Batch bad_token = Rows({{1, 0}});
  bad_token.rows[0].token = 10;
  EXPECT_TRUE(absl::IsInvalidArgument(Plan(bad_token).status()));
  bad_token.rows[0].token = -1;
  EXPECT_TRUE(absl::IsInvalidArgument(Plan(bad_token).status()));
}

TEST_F(BatchPlanTest, HiddenSizeMustMatchWithoutEmbedding) {
  limits_.has_embedding = false;
  Batch batch = Rows({{1, 0}, {1, 1}});
  batch.hidden.assign(7, 0.0f);
  EXPECT_TRUE(absl::IsInvalidArgument(Plan(batch).status()));
  batch.hidden.assign(8, 0.0f);
  EXPECT_TRUE(Plan(batch).ok());
}

TEST_F(BatchPlanTest, ContextOverflowIsOutOfRange) {
  Batch batch;
  for (int32_t p = 3; p < 17; ++p) batch.rows.push_back({7, p, 1, true});
  EXPECT_TRUE(absl::IsOutOfRange(Plan(batch).status()));
  batch.rows.pop_back();  // positions 3..15 fit a context of 16
  EXPECT_TRUE(Plan(batch).ok());
}

}  // namespace
}  // namespace tessera::kernels
