#include "worker/profiler.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tessera::worker {
namespace {

v1::ProfileResponse Measured() {
  v1::ProfileResponse p;
  p.set_worker_name("w1");
  p.set_memory_budget_bytes(1 << 30);
  v1::FormatBenchmark* b = p.add_benchmarks();
  b->set_format(v1::TENSOR_FORMAT_F32);
  b->set_decode_bytes_per_second(8e9);
  b->set_prefill_flops(40e9);
  b = p.add_benchmarks();
  b->set_format(v1::TENSOR_FORMAT_Q8_0);
  b->set_decode_bytes_per_second(6e9);
  b->set_prefill_flops(20e9);
  p.add_backends()->set_description("cpu, 1 threads");
  return p;
}

TEST(EmulatedProfileTest, DividesEveryMeasuredSpeedAndSaysSo) {
  const v1::ProfileResponse p = EmulatedProfile(Measured(), 4);
  ASSERT_EQ(p.benchmarks_size(), 2);
  EXPECT_DOUBLE_EQ(p.benchmarks(0).decode_bytes_per_second(), 2e9);
  EXPECT_DOUBLE_EQ(p.benchmarks(0).prefill_flops(), 10e9);
  EXPECT_DOUBLE_EQ(p.benchmarks(1).decode_bytes_per_second(), 1.5e9);
  EXPECT_DOUBLE_EQ(p.benchmarks(1).prefill_flops(), 5e9);
  EXPECT_EQ(p.benchmarks(1).format(), v1::TENSOR_FORMAT_Q8_0);
  EXPECT_EQ(p.memory_budget_bytes(), 1 << 30);  // budgets are not speeds
  EXPECT_EQ(p.emulated_slowdown(), 4);
}

TEST(EmulatedProfileTest, NoSlowdownLeavesTheProfileAlone) {
  const v1::ProfileResponse p = EmulatedProfile(Measured(), 1);
  EXPECT_EQ(p.SerializeAsString(), Measured().SerializeAsString());
}

TEST(EmulatedProfileTest, CacheKeepsTheMeasuredFigures) {
  const std::string path = ::testing::TempDir() + "/profile_test.txt";
  ASSERT_TRUE(SaveProfileCache(path, Measured()).ok());
  auto loaded = LoadProfileCache(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_DOUBLE_EQ(
      EmulatedProfile(*loaded, 2).benchmarks(0).decode_bytes_per_second(), 4e9);
  EXPECT_DOUBLE_EQ(loaded->benchmarks(0).decode_bytes_per_second(), 8e9);
}

}  // namespace
}  // namespace tessera::worker
