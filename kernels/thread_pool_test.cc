#include "kernels/thread_pool.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tessera::kernels {
namespace {

TEST(ThreadPoolTest, RunCallsEveryPartOnce) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    std::vector<std::atomic<int>> calls(threads);
    pool.Run([&](int part) { calls[part].fetch_add(1); });
    for (int t = 0; t < threads; ++t) EXPECT_EQ(calls[t].load(), 1) << t;
  }
}

TEST(ThreadPoolTest, ParallelForCoversEveryIndexExactlyOnce) {
  ThreadPool pool(3);
  for (int64_t n : {0, 1, 7, 64, 1000}) {
    for (int64_t grain : {1, 3, 64, 5000}) {
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, grain, [&](int64_t b, int64_t e, int t) {
        EXPECT_LE(e - b, grain);
        EXPECT_GE(t, 0);
        EXPECT_LT(t, 3);
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " grain=" << grain;
      }
    }
  }
}

TEST(ThreadPoolTest, ManyBackToBackRegionsComplete) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int region = 0; region < 20000; ++region) {
    pool.Run([&](int part) { total.fetch_add(part + 1); });
  }
  EXPECT_EQ(total.load(), 20000 * 3);
}

TEST(ThreadPoolTest, RegionsSeeWritesOfEarlierRegions) {
  ThreadPool pool(2);
  std::vector<int> data(1000, 0);
  for (int round = 1; round <= 50; ++round) {
    pool.ParallelFor(1000, 10, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        ASSERT_EQ(data[i], round - 1);
        data[i] = round;
      }
    });
  }
}

// Two chunks that each wait for the other to start can only finish when a
// worker runs one of them: proves that sleeping workers wake and take part.
TEST(ThreadPoolTest, SleepingWorkersWakeAndTakePart) {
  ThreadPool pool(2);
  for (int round = 0; round < 3; ++round) {
    // Longer than the spin time, so the worker is asleep.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::atomic<int> started{0};
    std::atomic<bool> both{true};
    std::vector<int> threads_seen(2, -1);
    pool.ParallelFor(2, 1, [&](int64_t b, int64_t, int t) {
      threads_seen[b] = t;
      started.fetch_add(1);
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (started.load() < 2) {
        if (std::chrono::steady_clock::now() > deadline) {
          both = false;
          return;
        }
      }
    });
    EXPECT_TRUE(both.load()) << "round " << round;
    EXPECT_NE(threads_seen[0], threads_seen[1]);
  }
}

TEST(ThreadPoolTest, CallerFinishesRegionsWithoutABusyWorker) {
  // Chunks complete even when the caller ends up running all of them.
  ThreadPool pool(4);
  std::atomic<int64_t> sum{0};
  for (int i = 0; i < 1000; ++i) {
    pool.ParallelFor(3, 1,
                     [&](int64_t b, int64_t e, int) { sum.fetch_add(b + 1); });
  }
  EXPECT_EQ(sum.load(), 1000 * 6);
}

}  // namespace
}  // namespace tessera::kernels
