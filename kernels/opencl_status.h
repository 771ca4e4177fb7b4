// OpenCL error handling: every cl_int error code becomes an absl::Status that
// names the failing call and the error ("clBuildProgram:
// CL_BUILD_PROGRAM_FAILURE: <build log>"). Nothing here aborts.
//
// This header is also the single place that includes <CL/cl.h>, so the API
// version (OpenCL 1.2, for Adreno/Mali/PoCL/NVIDIA alike) is fixed once.
//
// Thread-safe: pure functions.
#ifndef TESSERA_KERNELS_OPENCL_STATUS_H_
#define TESSERA_KERNELS_OPENCL_STATUS_H_

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tessera::kernels {

// The symbolic name of an OpenCL error code ("CL_INVALID_VALUE"), or
// "CL_UNKNOWN_ERROR(<code>)" style text for codes this table does not know
// (returned through a thread-local buffer; copy it before the next call).
const char* ClErrorName(cl_int error);

// The absl code that best describes `error`: ResourceExhausted for
// allocation failures, Unavailable for missing devices/platforms/compilers,
// Internal for everything else (invalid arguments to OpenCL are our bugs or
// driver bugs, never the user's).
absl::StatusCode ClErrorCode(cl_int error);

// OK for CL_SUCCESS; otherwise "<call>: <name>" or "<call>: <name>: <detail>".
absl::Status ClStatus(absl::string_view call, cl_int error,
                      absl::string_view detail = "");

}  // namespace tessera::kernels

// Evaluates `expr` (a cl_int-returning OpenCL call, named `call`) once and
// returns its Status from the enclosing function when it failed.
#define TESSERA_CL_RETURN_IF_ERROR(call, expr)                        \
  do {                                                                \
    const cl_int tessera_cl_error_ = (expr);                          \
    if (tessera_cl_error_ != CL_SUCCESS)                              \
      return ::tessera::kernels::ClStatus((call), tessera_cl_error_); \
  } while (0)

#endif  // TESSERA_KERNELS_OPENCL_STATUS_H_
