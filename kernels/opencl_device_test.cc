#include "kernels/opencl_device.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "kernels/opencl_backend.h"
#include "kernels/opencl_status.h"
#include "kernels/opencl_testing.h"

namespace tessera::kernels {
namespace {

TEST(ClStatusTest, NamesTheCallAndTheError) {
  absl::Status s = ClStatus("clBuildProgram", CL_BUILD_PROGRAM_FAILURE, "log");
  EXPECT_EQ(s.message(), "clBuildProgram: CL_BUILD_PROGRAM_FAILURE: log");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
}

TEST(ClStatusTest, SuccessIsOk) {
  EXPECT_TRUE(ClStatus("clFinish", CL_SUCCESS).ok());
}

TEST(ClStatusTest, AllocationFailuresAreResourceExhausted) {
  EXPECT_TRUE(absl::IsResourceExhausted(
      ClStatus("clCreateBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE)));
  EXPECT_TRUE(absl::IsResourceExhausted(
      ClStatus("clEnqueueNDRangeKernel", CL_OUT_OF_RESOURCES)));
}

TEST(ClStatusTest, MissingPlatformIsUnavailable) {
  absl::Status s = ClStatus("clGetPlatformIDs", -1001);
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(s.message(), "clGetPlatformIDs: CL_PLATFORM_NOT_FOUND_KHR");
}

TEST(ClStatusTest, UnknownCodesKeepTheNumber) {
  EXPECT_STREQ(ClErrorName(-12345), "CL_UNKNOWN_ERROR(-12345)");
  EXPECT_STREQ(ClErrorName(CL_INVALID_KERNEL_ARGS), "CL_INVALID_KERNEL_ARGS");
}

TEST(OpenClDeviceTest, ListsDevicesWithLimits) {
  absl::StatusOr<std::vector<OpenClDeviceInfo>> devices = ListOpenClDevices();
  TESSERA_REQUIRE_OPENCL(devices.status());
  ASSERT_FALSE(devices->empty());
  for (const OpenClDeviceInfo& d : *devices) {
    EXPECT_FALSE(d.device_name.empty());
    EXPECT_FALSE(d.driver_version.empty());
    EXPECT_GT(d.max_alloc_bytes, 0);
    EXPECT_GE(d.global_mem_bytes, d.max_alloc_bytes);
    EXPECT_GE(d.max_work_group_size, 1);
    EXPECT_GE(d.compute_units, 1);
  }
}

TEST(OpenClDeviceTest, AutomaticSelectionPrefersAGpu) {
  absl::StatusOr<std::vector<OpenClDeviceInfo>> devices = ListOpenClDevices();
  TESSERA_REQUIRE_OPENCL(devices.status());
  absl::StatusOr<OpenClDeviceInfo> chosen = SelectOpenClDevice(-1, -1);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  bool any_gpu = false;
  for (const OpenClDeviceInfo& d : *devices) any_gpu |= d.is_gpu;
  EXPECT_EQ(chosen->is_gpu, any_gpu);
  if (!any_gpu) {
    EXPECT_EQ(chosen->platform_index, (*devices)[0].platform_index);
    EXPECT_EQ(chosen->device_index, (*devices)[0].device_index);
  }
}

TEST(OpenClDeviceTest, ExplicitSelectionFindsTheDevice) {
  absl::StatusOr<std::vector<OpenClDeviceInfo>> devices = ListOpenClDevices();
  TESSERA_REQUIRE_OPENCL(devices.status());
  const OpenClDeviceInfo& last = devices->back();
  absl::StatusOr<OpenClDeviceInfo> chosen =
      SelectOpenClDevice(last.platform_index, last.device_index);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(chosen->device, last.device);
  EXPECT_TRUE(absl::StartsWith(chosen->Describe(),
                               absl::StrCat("opencl:", last.platform_index, ":",
                                            last.device_index, " (")));
}

TEST(OpenClDeviceTest, MissingDeviceIsUnavailable) {
  absl::StatusOr<std::vector<OpenClDeviceInfo>> devices = ListOpenClDevices();
  TESSERA_REQUIRE_OPENCL(devices.status());
  absl::StatusOr<OpenClDeviceInfo> none = SelectOpenClDevice(0, 999);
  EXPECT_TRUE(absl::IsUnavailable(none.status())) << none.status();
  none = SelectOpenClDevice(999, -1);
  EXPECT_TRUE(absl::IsUnavailable(none.status())) << none.status();
}

TEST(OpenClDeviceTest, MalformedSelectorsAreInvalid) {
  EXPECT_TRUE(absl::IsInvalidArgument(SelectOpenClDevice(-2, 0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(SelectOpenClDevice(0, -7).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(SelectOpenClDevice(-1, 0).status()));
}

TEST(OpenClContextTest, RejectsBuffersBeyondTheLimit) {
  auto context = testing::DefaultContext();
  TESSERA_REQUIRE_OPENCL(context.status());
  (*context)->set_max_buffer_bytes(4096);
  EXPECT_EQ((*context)->max_buffer_bytes(), 4096);
  EXPECT_TRUE((*context)->CreateBuffer(4096).ok());
  absl::StatusOr<ClMem> big = (*context)->CreateBuffer(4097);
  EXPECT_TRUE(absl::IsResourceExhausted(big.status()));
  EXPECT_TRUE(absl::StrContains(big.status().message(), "clCreateBuffer"));
  EXPECT_TRUE(absl::IsInvalidArgument((*context)->CreateBuffer(0).status()));
}

TEST(OpenClContextTest, WritesAndReadsBack) {
  auto context = testing::DefaultContext();
  TESSERA_REQUIRE_OPENCL(context.status());
  OpenClContext& c = **context;
  absl::StatusOr<ClMem> a = c.CreateBuffer(64);
  absl::StatusOr<ClMem> b = c.CreateBuffer(64);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<int32_t> in(16), out(16, 0);
  for (int i = 0; i < 16; ++i) in[i] = i * 7 - 3;
  ASSERT_TRUE(c.Write(a->get(), 0, 64, in.data(), true).ok());
  ASSERT_TRUE(c.Copy(a->get(), 16, b->get(), 0, 48).ok());
  ASSERT_TRUE(c.Read(b->get(), 0, 48, out.data()).ok());
  for (int i = 0; i < 12; ++i) EXPECT_EQ(out[i], in[i + 4]);
}

// A machine without any OpenCL driver: the ICD loader is pointed at an empty
// vendor list in a fresh child process (the loader reads it once per
// process), where discovery and the backend factory must report Unavailable
// instead of crashing.
TEST(OpenClNoPlatformTest, MissingDriverIsUnavailable) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("OCL_ICD_VENDORS", "/nonexistent-tessera-vendors", 1);
        unsetenv("OCL_ICD_FILENAMES");
        const absl::Status listed = ListOpenClDevices().status();
        const absl::Status created = CreateOpenClBackend(-1, -1, {}).status();
        const bool ok =
            absl::IsUnavailable(listed) && absl::IsUnavailable(created) &&
            absl::StrContains(listed.message(), "no OpenCL platform");
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace tessera::kernels
