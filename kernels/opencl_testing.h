// Test helpers for the OpenCL tests (header only; included by *_test.cc).
//
// A machine without an OpenCL driver skips these tests with the reason,
// except in CI (CI=true), where PoCL is installed and they must run.
#ifndef TESSERA_KERNELS_OPENCL_TESTING_H_
#define TESSERA_KERNELS_OPENCL_TESTING_H_

#include <memory>

#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "kernels/opencl_context.h"
#include "kernels/opencl_device.h"

namespace tessera::kernels::testing {

// The default device's context, or the reason there is none.
inline absl::StatusOr<std::unique_ptr<OpenClContext>> DefaultContext() {
  absl::StatusOr<OpenClDeviceInfo> device = SelectOpenClDevice(-1, -1);
  if (!device.ok()) return device.status();
  return OpenClContext::Create(*device);
}

}  // namespace tessera::kernels::testing

// Skips (locally) or fails (in CI) the current test when `status` says
// that OpenCL is unavailable; any other error fails the test.
#define TESSERA_REQUIRE_OPENCL(status)                             \
  do {                                                             \
    const ::absl::Status tessera_ocl_status_ = (status);           \
    if (absl::IsUnavailable(tessera_ocl_status_) &&                \
        !::tessera::testing::InCi()) {                             \
      GTEST_SKIP() << "no OpenCL device: " << tessera_ocl_status_; \
    }                                                              \
    ASSERT_TRUE(tessera_ocl_status_.ok()) << tessera_ocl_status_;  \
  } while (0)

#endif  // TESSERA_KERNELS_OPENCL_TESTING_H_
