// OpenCL platform and device discovery.
//
// Devices are named by (platform index, device index) in the order the ICD
// loader reports them, as `clinfo -l` lists them. A machine without any
// OpenCL driver is a normal situation: discovery returns Unavailable, never
// aborts.
//
// Thread-safety: the functions are thread-safe; OpenClDeviceInfo is a plain
// value.
#ifndef TESSERA_KERNELS_OPENCL_DEVICE_H_
#define TESSERA_KERNELS_OPENCL_DEVICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/opencl_status.h"

namespace tessera::kernels {

struct OpenClDeviceInfo {
  int platform_index = 0;
  int device_index = 0;
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
  std::string platform_name;     // "Portable Computing Language"
  std::string platform_version;  // "OpenCL 3.0 PoCL 3.1+debian ..."
  std::string device_name;       // "pthread-skylake-avx512-AMD EPYC"
  std::string device_version;    // "OpenCL 3.0 PoCL HSTR: ..."
  std::string driver_version;    // "3.1+debian"
  bool is_gpu = false;
  bool is_cpu = false;
  bool has_fp16 = false;  // cl_khr_fp16 (informational)
  int compute_units = 1;
  int64_t global_mem_bytes = 0;
  int64_t max_alloc_bytes = 0;  // CL_DEVICE_MAX_MEM_ALLOC_SIZE
  int64_t local_mem_bytes = 0;
  int64_t max_work_group_size = 1;
  int64_t max_work_item_sizes[3] = {1, 1, 1};

  // "opencl:0:0 (NVIDIA H100, driver 550.54)".
  std::string Describe() const;
};

// Every device of every platform. Unavailable ("no OpenCL platform") when the
// machine has no driver; other OpenCL failures as Statuses naming the call.
absl::StatusOr<std::vector<OpenClDeviceInfo>> ListOpenClDevices();

// The device (`platform`, `device`). platform == device == -1: the first GPU
// of any platform, else the first device. device == -1 alone: the first GPU
// of that platform, else its first device. InvalidArgument for other
// negative values; Unavailable when there is no such platform or device.
absl::StatusOr<OpenClDeviceInfo> SelectOpenClDevice(int platform, int device);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_DEVICE_H_
