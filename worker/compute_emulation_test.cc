#include "worker/compute_emulation.h"

#include "gtest/gtest.h"

namespace tessera::worker {
namespace {

using absl::Microseconds;

// The sleep, in microseconds, after a batch of `rows` taking `host_us`.
double ExtraUs(ComputeEmulation& emulation, int64_t rows, double host_us) {
  return absl::ToDoubleMicroseconds(
      emulation.ExtraTime(rows, Microseconds(host_us)));
}

TEST(ComputeEmulationTest, NoSlowdownSleepsNothing) {
  ComputeEmulation emulation(1);
  EXPECT_EQ(ExtraUs(emulation, 1, 100), 0);
}

TEST(ComputeEmulationTest, SteadyBatchesAreScaledExactly) {
  ComputeEmulation emulation(100);
  for (int i = 0; i < 10; ++i) {
    EXPECT_NEAR(ExtraUs(emulation, 1, 20), 1980, 1e-3);
  }
}

TEST(ComputeEmulationTest, AHostHiccupIsCappedAfterWarmup) {
  ComputeEmulation emulation(700);
  emulation.ExtraTime(1, Microseconds(20));
  emulation.ExtraTime(1, Microseconds(20));
  // A 5.5 ms page-fault storm would otherwise become 3.8 s.
  EXPECT_NEAR(ExtraUs(emulation, 1, 5500), 699 * 60, 1e-3);
}

TEST(ComputeEmulationTest, WarmupSamplesAreNotCapped) {
  ComputeEmulation emulation(10);
  EXPECT_NEAR(ExtraUs(emulation, 1, 20), 180, 1e-3);
  EXPECT_NEAR(ExtraUs(emulation, 1, 500), 4500, 1e-3);
}

TEST(ComputeEmulationTest, SizeClassesAreSmoothedSeparately) {
  ComputeEmulation emulation(2);
  // Prefill of 128 rows at 5 us a row, decode at 20 us a row: a decode step
  // is not capped by the cheaper prefill rows, nor prefill by decode.
  for (int i = 0; i < 3; ++i) emulation.ExtraTime(128, Microseconds(640));
  for (int i = 0; i < 3; ++i) emulation.ExtraTime(1, Microseconds(20));
  EXPECT_NEAR(ExtraUs(emulation, 1, 25), 25, 1e-3);
  EXPECT_NEAR(ExtraUs(emulation, 200, 2000), 2000, 1e-3);
  EXPECT_NEAR(ExtraUs(emulation, 128, 640), 640, 1e-3);
}

TEST(ComputeEmulationTest, TheSmoothedCostFollowsASteadyRise) {
  ComputeEmulation emulation(2);
  emulation.ExtraTime(1, Microseconds(10));
  emulation.ExtraTime(1, Microseconds(10));
  // Attention grows with the context: each step costs 20% more than the last,
  // at most 1.7x the smoothed figure, inside the cap, so every step is charged in full.
  double us = 10;
  for (int i = 0; i < 20; ++i) {
    us *= 1.2;
    EXPECT_NEAR(ExtraUs(emulation, 1, us), us, 1e-3);
  }
}

}  // namespace
}  // namespace tessera::worker
