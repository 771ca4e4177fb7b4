#include "kernels/opencl_program_cache.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"

namespace tessera::kernels {
namespace {

constexpr char kMagic[] = "TSCLBIN1";
constexpr size_t kMagicBytes = 8;
constexpr size_t kMaxLogBytes = 8000;

uint64_t Fnv1a(absl::string_view data, uint64_t hash) {
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// Two independent 64-bit FNV-1a hashes over every source, each prefixed with
// its length so that moving text between sources changes the hash.
std::string SourceHash(absl::Span<const absl::string_view> sources) {
  uint64_t a = 0xcbf29ce484222325ULL;
  uint64_t b = 0x84222325cbf29ce4ULL;
  for (absl::string_view source : sources) {
    const std::string length = absl::StrCat(source.size(), ":");
    a = Fnv1a(source, Fnv1a(length, a));
    b = Fnv1a(source, Fnv1a(length, b));
  }
  return absl::StrFormat("%016x%016x", a, b);
}

void AppendU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void AppendU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t ReadLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

std::string BuildLog(const OpenClContext& context, cl_program program) {
  size_t size = 0;
  cl_device_id device = context.device().device;
  if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr,
                            &size) != CL_SUCCESS) {
    return "(no build log)";
  }
  std::string log(size, '\0');
  if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size,
                            log.data(), nullptr) != CL_SUCCESS) {
    return "(no build log)";
  }
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) {
    log.pop_back();
  }
  if (log.size() > kMaxLogBytes) log = log.substr(0, kMaxLogBytes) + "...";
  return log.empty() ? "(empty build log)" : log;
}

}  // namespace

absl::Status BuildProgram(const OpenClContext& context, cl_program program,
                          const std::string& options) {
  cl_device_id device = context.device().device;
  cl_int err =
      clBuildProgram(program, 1, &device, options.c_str(), nullptr, nullptr);
  if (err == CL_SUCCESS) return absl::OkStatus();
  if (err == CL_BUILD_PROGRAM_FAILURE) {
    return ClStatus("clBuildProgram", err, BuildLog(context, program));
  }
  return ClStatus("clBuildProgram", err);
}

OpenClProgramCache::OpenClProgramCache(OpenClContext* context, std::string dir)
    : context_(context), dir_(std::move(dir)) {}

std::string OpenClProgramCache::DefaultDir() {
  const char* dir = std::getenv("TESSERA_CACHE_DIR");
  if (dir != nullptr && dir[0] != '\0') return absl::StrCat(dir, "/opencl");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return absl::StrCat(home, "/.cache/tessera/opencl");
  }
  return "";
}

std::string OpenClProgramCache::Key(absl::Span<const absl::string_view> sources,
                                    const std::string& options) const {
  const OpenClDeviceInfo& d = context_->device();
  return absl::StrCat("tessera-opencl-program v1\nplatform=", d.platform_name,
                      "\ndevice=", d.device_name,
                      "\ndevice_version=", d.device_version,
                      "\ndriver=", d.driver_version, "\noptions=", options,
                      "\nsources=", SourceHash(sources), "\n");
}

std::string OpenClProgramCache::EntryPath(
    absl::Span<const absl::string_view> sources,
    const std::string& options) const {
  if (dir_.empty()) return "";
  const uint64_t hash = Fnv1a(Key(sources, options), 0xcbf29ce484222325ULL);
  return absl::StrFormat("%s/%016x.clbin", dir_, hash);
}

absl::StatusOr<ClProgram> OpenClProgramCache::Build(
    absl::Span<const absl::string_view> sources, const std::string& options) {
  const std::string path = EntryPath(sources, options);
  const std::string key = Key(sources, options);
  if (!path.empty() && std::filesystem::exists(path)) {
    absl::StatusOr<ClProgram> cached = LoadEntry(path, key, options);
    if (cached.ok()) {
      ++stats_.loaded;
      return cached;
    }
    ++stats_.rejected;
    LOG(WARNING) << "OpenCL program cache: rebuilding " << path << ": "
                 << cached.status().message();
  }
  TESSERA_ASSIGN_OR_RETURN(ClProgram program, Compile(sources, options));
  ++stats_.compiled;
  if (!path.empty()) StoreEntry(path, key, program.get());
  return program;
}

absl::StatusOr<ClProgram> OpenClProgramCache::LoadEntry(
    const std::string& path, const std::string& key,
    const std::string& options) {
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file,
                           MappedFile::Open(path));
  const uint8_t* p = file->data();
  const uint64_t size = file->size();
  if (size < kMagicBytes + 4 || std::memcmp(p, kMagic, kMagicBytes) != 0) {
    return absl::DataLossError("bad magic");
  }
  const uint64_t key_bytes = ReadLe(p + kMagicBytes, 4);
  const uint64_t header = kMagicBytes + 4 + key_bytes;
  if (header + 8 > size) return absl::DataLossError("truncated key");
  if (absl::string_view(reinterpret_cast<const char*>(p) + kMagicBytes + 4,
                        key_bytes) != key) {
    return absl::DataLossError("key mismatch (hash collision or stale entry)");
  }
  const uint64_t binary_bytes = ReadLe(p + header, 8);
  if (binary_bytes == 0 || binary_bytes != size - header - 8) {
    return absl::DataLossError("truncated binary");
  }
  const unsigned char* binary = p + header + 8;
  const size_t length = binary_bytes;
  cl_device_id device = context_->device().device;
  cl_int binary_status = CL_SUCCESS;
  cl_int err = CL_SUCCESS;
  ClProgram program(clCreateProgramWithBinary(
      context_->context(), 1, &device, &length, &binary, &binary_status, &err));
  if (err != CL_SUCCESS) return ClStatus("clCreateProgramWithBinary", err);
  if (binary_status != CL_SUCCESS) {
    return ClStatus("clCreateProgramWithBinary", binary_status);
  }
  TESSERA_RETURN_IF_ERROR(BuildProgram(*context_, program.get(), options));
  return program;
}

absl::StatusOr<ClProgram> OpenClProgramCache::Compile(
    absl::Span<const absl::string_view> sources, const std::string& options) {
  std::vector<const char*> texts;
  std::vector<size_t> lengths;
  for (absl::string_view source : sources) {
    texts.push_back(source.data());
    lengths.push_back(source.size());
  }
  cl_int err = CL_SUCCESS;
  ClProgram program(clCreateProgramWithSource(
      context_->context(), static_cast<cl_uint>(texts.size()), texts.data(),
      lengths.data(), &err));
  if (err != CL_SUCCESS) return ClStatus("clCreateProgramWithSource", err);
  TESSERA_RETURN_IF_ERROR(BuildProgram(*context_, program.get(), options));
  return program;
}

void OpenClProgramCache::StoreEntry(const std::string& path,
                                    const std::string& key,
                                    cl_program program) {
  size_t size = 0;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size,
                       nullptr) != CL_SUCCESS ||
      size == 0) {
    ++stats_.write_failures;  // the driver offers no binary to cache
    return;
  }
  std::string binary(size, '\0');
  unsigned char* target = reinterpret_cast<unsigned char*>(binary.data());
  if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(target), &target,
                       nullptr) != CL_SUCCESS) {
    ++stats_.write_failures;
    return;
  }
  std::string entry(kMagic, kMagicBytes);
  AppendU32(entry, static_cast<uint32_t>(key.size()));
  entry += key;
  AppendU64(entry, binary.size());
  entry += binary;
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  absl::Status written = WriteStringToFile(path, entry);
  if (!written.ok()) {
    ++stats_.write_failures;
    LOG(WARNING) << "OpenCL program cache: cannot store " << path << ": "
                 << written.message();
  }
}

}  // namespace tessera::kernels
