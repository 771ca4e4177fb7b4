#include "kernels/owned_ranges.h"

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace tessera::kernels {
namespace {

using Span = std::pair<int64_t, int64_t>;

std::vector<Span> ClaimAll(OwnedRanges& ranges, int home) {
  std::vector<Span> runs;
  int64_t begin, end;
  while (ranges.Claim(home, &begin, &end)) runs.push_back({begin, end});
  return runs;
}

TEST(OwnedRangesTest, OwnerTakesHalvingRunsFromTheFrontThenStealsFromBacks) {
  OwnedRanges ranges(2);
  ranges.Reset(10);  // [0, 5) and [5, 10)
  const std::vector<Span> want = {{0, 2}, {2, 3}, {3, 4}, {4, 5},
                                 {9, 10}, {8, 9}, {7, 8}, {6, 7}, {5, 6}};
  EXPECT_EQ(ClaimAll(ranges, 0), want);
  EXPECT_TRUE(ClaimAll(ranges, 1).empty());
}

TEST(OwnedRangesTest, UnevenSplitAndEmptyReset) {
  OwnedRanges ranges(3);
  ranges.Reset(7);  // [0, 3), [3, 5), [5, 7)
  int64_t begin, end;
  ASSERT_TRUE(ranges.Claim(2, &begin, &end));
  EXPECT_EQ(Span(begin, end), Span(5, 6));
  ASSERT_TRUE(ranges.Claim(1, &begin, &end));
  EXPECT_EQ(Span(begin, end), Span(3, 4));
  ranges.Reset(0);
  EXPECT_FALSE(ranges.Claim(0, &begin, &end));
  EXPECT_FALSE(ranges.Claim(2, &begin, &end));
}

TEST(OwnedRangesTest, ConcurrentClaimsTakeEveryUnitExactlyOnce) {
  constexpr int kThreads = 4;
  constexpr int64_t kUnits = 20000;
  OwnedRanges ranges(kThreads);
  for (int round = 0; round < 20; ++round) {
    ranges.Reset(kUnits);
    std::vector<std::atomic<int>> taken(kUnits);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        int64_t begin, end;
        while (ranges.Claim(t, &begin, &end)) {
          ASSERT_LT(begin, end);
          for (int64_t u = begin; u < end; ++u) taken[u].fetch_add(1);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (int64_t u = 0; u < kUnits; ++u) {
      ASSERT_EQ(taken[u].load(), 1) << "unit " << u << " round " << round;
    }
  }
}

}  // namespace
}  // namespace tessera::kernels
