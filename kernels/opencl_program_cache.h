// OpenClProgramCache: builds OpenCL programs from source, keeping the compiled
// binaries on disk so later processes skip the (slow) driver compiler.
//
// A cache entry is keyed by platform name, device name, device version,
// driver version, build options and a 128-bit hash of the sources; the full
// key is stored inside the entry and compared on load, so a hash collision or
// a stale/corrupt file is detected and the program is rebuilt from source
// (and the entry rewritten). Entries are written atomically (temp + rename),
// so concurrent processes never see partial files.
//
// File layout (little-endian):
//   "TSCLBIN1" | uint32 key_bytes | key | uint64 binary_bytes | binary
// File name: <dir>/<16 hex digits of the key's hash>.clbin
//
// Failures of the disk cache (unwritable directory, corrupt entry) are never
// errors: the program is compiled from source. Compile failures are:
// Internal "clBuildProgram: CL_BUILD_PROGRAM_FAILURE: <build log>".
//
// Thread-safety: not thread-safe (one per OpenClContext owner).
#ifndef TESSERA_KERNELS_OPENCL_PROGRAM_CACHE_H_
#define TESSERA_KERNELS_OPENCL_PROGRAM_CACHE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kernels/opencl_context.h"
#include "kernels/opencl_handles.h"

namespace tessera::kernels {

class OpenClProgramCache {
 public:
  struct Stats {
    int compiled = 0;        // built from source
    int loaded = 0;          // built from a cached binary
    int rejected = 0;        // cache entries found unusable
    int write_failures = 0;  // entries that could not be stored
  };

  // `context` must outlive the cache. `dir` empty disables the disk cache.
  OpenClProgramCache(OpenClContext* context, std::string dir);

  // $TESSERA_CACHE_DIR/opencl if TESSERA_CACHE_DIR is set and non-empty
  // (the root of tessera's caches), else $HOME/.cache/tessera/opencl, else ""
  // (no cache).
  static std::string DefaultDir();

  // A built program for the concatenation of `sources` with `options`.
  absl::StatusOr<ClProgram> Build(absl::Span<const absl::string_view> sources,
                                  const std::string& options);

  // Where Build stores the entry for these inputs ("" without a directory).
  std::string EntryPath(absl::Span<const absl::string_view> sources,
                        const std::string& options) const;

  const Stats& stats() const { return stats_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string Key(absl::Span<const absl::string_view> sources,
                  const std::string& options) const;
  absl::StatusOr<ClProgram> LoadEntry(const std::string& path,
                                      const std::string& key,
                                      const std::string& options);
  absl::StatusOr<ClProgram> Compile(absl::Span<const absl::string_view> sources,
                                    const std::string& options);
  void StoreEntry(const std::string& path, const std::string& key,
                  cl_program program);

  OpenClContext* context_;
  std::string dir_;
  Stats stats_;
};

// Builds `program` for the context's device; on failure the Status carries
// the build log. Exposed for the cache and for tests.
absl::Status BuildProgram(const OpenClContext& context, cl_program program,
                          const std::string& options);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_PROGRAM_CACHE_H_
