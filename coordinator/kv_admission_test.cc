#include "coordinator/kv_admission.h"

#include "gtest/gtest.h"

namespace tessera::coordinator {
namespace {

// Two stages: a CPU one charging 64-token pages of 1 KiB a token within
// 1 MiB, and an OpenCL one whose capacities may double, 512 B a token
// within 1 MiB.
KvAdmission TwoStages() {
  return KvAdmission({{"cpu", 1 << 20, 1024, 64, 1},
                      {"gpu", 1 << 20, 512, 1, 2}});
}

TEST(KvAdmissionTest, SessionsAreChargedByPagesAndGrowth) {
  KvAdmission a = TwoStages();
  // 100 tokens: 2 pages = 128 KiB on the CPU stage, 2 x 100 x 512 B on the
  // GPU one. Eight fit the CPU stage's 1 MiB, not nine.
  for (uint64_t id = 1; id <= 8; ++id) EXPECT_TRUE(a.TryAdmit(id, 100)) << id;
  EXPECT_FALSE(a.TryAdmit(9, 100));
  EXPECT_EQ(a.admitted(), 8);
  a.Release(3);
  EXPECT_TRUE(a.TryAdmit(9, 100));
  EXPECT_FALSE(a.TryAdmit(10, 1));
}

TEST(KvAdmissionTest, AFailedAdmissionReservesNothing) {
  KvAdmission a = TwoStages();
  // 1024 tokens fit the GPU stage (1 MiB with growth) and the CPU one
  // (1 MiB) exactly; nothing else fits next to them.
  EXPECT_TRUE(a.TryAdmit(1, 1024));
  EXPECT_FALSE(a.TryAdmit(2, 1));
  a.Release(1);
  a.Release(1);  // twice: ignored
  a.Release(77);  // unknown: ignored
  EXPECT_TRUE(a.TryAdmit(2, 1024));
}

TEST(KvAdmissionTest, ASessionLargerThanAStageIsRefusedUpFront) {
  KvAdmission a = TwoStages();
  EXPECT_TRUE(a.CheckFits(1024).ok());
  absl::Status s = a.CheckFits(1025);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("worker cpu"), std::string::npos) << s;
  EXPECT_NE(s.message().find("1025 tokens"), std::string::npos) << s;
  EXPECT_NE(s.message().find("--kv-budget"), std::string::npos) << s;
}

TEST(KvAdmissionTest, UnlimitedStagesAdmitEverything) {
  KvAdmission a({{"reference", 0, 4096, 1, 1}});
  EXPECT_TRUE(a.CheckFits(int64_t{1} << 40).ok());
  for (uint64_t id = 1; id <= 100; ++id) EXPECT_TRUE(a.TryAdmit(id, 1 << 20));
}

}  // namespace
}  // namespace tessera::coordinator
