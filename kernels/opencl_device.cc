#include "kernels/opencl_device.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::kernels {
namespace {

absl::StatusOr<std::string> PlatformString(cl_platform_id platform,
                                           cl_platform_info param) {
  size_t size = 0;
  TESSERA_CL_RETURN_IF_ERROR(
      "clGetPlatformInfo",
      clGetPlatformInfo(platform, param, 0, nullptr, &size));
  std::string value(size, '\0');
  TESSERA_CL_RETURN_IF_ERROR(
      "clGetPlatformInfo",
      clGetPlatformInfo(platform, param, size, value.data(), nullptr));
  while (!value.empty() && value.back() == '\0') value.pop_back();
  return value;
}

absl::StatusOr<std::string> DeviceString(cl_device_id device,
                                         cl_device_info param) {
  size_t size = 0;
  TESSERA_CL_RETURN_IF_ERROR("clGetDeviceInfo",
                             clGetDeviceInfo(device, param, 0, nullptr, &size));
  std::string value(size, '\0');
  TESSERA_CL_RETURN_IF_ERROR(
      "clGetDeviceInfo",
      clGetDeviceInfo(device, param, size, value.data(), nullptr));
  while (!value.empty() && value.back() == '\0') value.pop_back();
  return value;
}

template <typename T>
absl::StatusOr<T> DeviceValue(cl_device_id device, cl_device_info param) {
  T value{};
  TESSERA_CL_RETURN_IF_ERROR(
      "clGetDeviceInfo",
      clGetDeviceInfo(device, param, sizeof(value), &value, nullptr));
  return value;
}

absl::Status FillStrings(OpenClDeviceInfo& info) {
  TESSERA_ASSIGN_OR_RETURN(info.platform_name,
                           PlatformString(info.platform, CL_PLATFORM_NAME));
  TESSERA_ASSIGN_OR_RETURN(info.platform_version,
                           PlatformString(info.platform, CL_PLATFORM_VERSION));
  TESSERA_ASSIGN_OR_RETURN(info.device_name,
                           DeviceString(info.device, CL_DEVICE_NAME));
  TESSERA_ASSIGN_OR_RETURN(info.device_version,
                           DeviceString(info.device, CL_DEVICE_VERSION));
  TESSERA_ASSIGN_OR_RETURN(info.driver_version,
                           DeviceString(info.device, CL_DRIVER_VERSION));
  TESSERA_ASSIGN_OR_RETURN(std::string extensions,
                           DeviceString(info.device, CL_DEVICE_EXTENSIONS));
  info.has_fp16 = absl::StrContains(extensions, "cl_khr_fp16");
  return absl::OkStatus();
}

absl::Status FillLimits(OpenClDeviceInfo& info) {
  cl_device_id d = info.device;
  TESSERA_ASSIGN_OR_RETURN(auto type,
                           DeviceValue<cl_device_type>(d, CL_DEVICE_TYPE));
  info.is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
  info.is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
  TESSERA_ASSIGN_OR_RETURN(
      auto units, DeviceValue<cl_uint>(d, CL_DEVICE_MAX_COMPUTE_UNITS));
  info.compute_units = units > 0 ? static_cast<int>(units) : 1;
  TESSERA_ASSIGN_OR_RETURN(auto global,
                           DeviceValue<cl_ulong>(d, CL_DEVICE_GLOBAL_MEM_SIZE));
  TESSERA_ASSIGN_OR_RETURN(
      auto alloc, DeviceValue<cl_ulong>(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE));
  TESSERA_ASSIGN_OR_RETURN(auto local,
                           DeviceValue<cl_ulong>(d, CL_DEVICE_LOCAL_MEM_SIZE));
  TESSERA_ASSIGN_OR_RETURN(
      auto group, DeviceValue<size_t>(d, CL_DEVICE_MAX_WORK_GROUP_SIZE));
  info.global_mem_bytes = static_cast<int64_t>(global);
  info.max_alloc_bytes = static_cast<int64_t>(alloc);
  info.local_mem_bytes = static_cast<int64_t>(local);
  info.max_work_group_size = static_cast<int64_t>(group > 0 ? group : 1);
  size_t items[3] = {1, 1, 1};
  TESSERA_CL_RETURN_IF_ERROR("clGetDeviceInfo(CL_DEVICE_MAX_WORK_ITEM_SIZES)",
                             clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES,
                                             sizeof(items), items, nullptr));
  for (int i = 0; i < 3; ++i) info.max_work_item_sizes[i] = items[i];
  return absl::OkStatus();
}

absl::StatusOr<std::vector<cl_platform_id>> Platforms() {
  cl_uint count = 0;
  cl_int err = clGetPlatformIDs(0, nullptr, &count);
  if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ ||
      (err == CL_SUCCESS && count == 0)) {
    return absl::UnavailableError(
        "no OpenCL platform on this machine (no ICD driver installed)");
  }
  TESSERA_CL_RETURN_IF_ERROR("clGetPlatformIDs", err);
  std::vector<cl_platform_id> platforms(count);
  TESSERA_CL_RETURN_IF_ERROR(
      "clGetPlatformIDs", clGetPlatformIDs(count, platforms.data(), nullptr));
  return platforms;
}

// Devices of one platform; a platform without devices yields an empty list.
absl::StatusOr<std::vector<cl_device_id>> Devices(cl_platform_id platform) {
  cl_uint count = 0;
  cl_int err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, nullptr, &count);
  if (err == CL_DEVICE_NOT_FOUND) return std::vector<cl_device_id>();
  TESSERA_CL_RETURN_IF_ERROR("clGetDeviceIDs", err);
  std::vector<cl_device_id> devices(count);
  TESSERA_CL_RETURN_IF_ERROR("clGetDeviceIDs",
                             clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, count,
                                            devices.data(), nullptr));
  return devices;
}

}  // namespace

std::string OpenClDeviceInfo::Describe() const {
  return absl::StrCat("opencl:", platform_index, ":", device_index, " (",
                      device_name, ", ", platform_name, " ", driver_version,
                      ")");
}

absl::StatusOr<std::vector<OpenClDeviceInfo>> ListOpenClDevices() {
  TESSERA_ASSIGN_OR_RETURN(std::vector<cl_platform_id> platforms, Platforms());
  std::vector<OpenClDeviceInfo> result;
  for (size_t p = 0; p < platforms.size(); ++p) {
    TESSERA_ASSIGN_OR_RETURN(std::vector<cl_device_id> devices,
                             Devices(platforms[p]));
    for (size_t d = 0; d < devices.size(); ++d) {
      OpenClDeviceInfo info;
      info.platform_index = static_cast<int>(p);
      info.device_index = static_cast<int>(d);
      info.platform = platforms[p];
      info.device = devices[d];
      TESSERA_RETURN_IF_ERROR(FillStrings(info));
      TESSERA_RETURN_IF_ERROR(FillLimits(info));
      result.push_back(std::move(info));
    }
  }
  return result;
}

absl::StatusOr<OpenClDeviceInfo> SelectOpenClDevice(int platform, int device) {
  if (platform < -1 || device < -1 || (platform == -1 && device != -1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad OpenCL device selector ", platform, ":", device,
        " (want PLATFORM:DEVICE indices >= 0, or -1 for automatic)"));
  }
  TESSERA_ASSIGN_OR_RETURN(std::vector<OpenClDeviceInfo> all,
                           ListOpenClDevices());
  const OpenClDeviceInfo* first = nullptr;
  for (const OpenClDeviceInfo& info : all) {
    if (platform >= 0 && info.platform_index != platform) continue;
    if (device >= 0) {
      if (info.device_index == device) return info;
      continue;
    }
    if (info.is_gpu) return info;
    if (first == nullptr) first = &info;
  }
  if (device < 0 && first != nullptr) return *first;
  return absl::UnavailableError(
      absl::StrCat("no OpenCL device ", platform, ":", device, " (", all.size(),
                   " device(s) found; see `clinfo -l`)"));
}

}  // namespace tessera::kernels
