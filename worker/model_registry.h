// ModelRegistry: finds model files in a worker's --model-dir by id (sha256,
// else name) and identifies model files (name + sha256). Hashes are cached
// per (path, size, mtime), so a directory is hashed once per process.
// Thread-safe.
#ifndef TESSERA_WORKER_MODEL_REGISTRY_H_
#define TESSERA_WORKER_MODEL_REGISTRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tessera::worker {

struct ModelIdentity {
  std::string name;    // file stem (e.g. "stories260K")
  std::string sha256;  // lowercase hex of the whole file
  std::string path;
};


// Name (file stem) and sha256 of a model file.
absl::StatusOr<ModelIdentity> IdentifyModel(const std::string& path);

class ModelRegistry {
 public:
  explicit ModelRegistry(std::string model_dir)
      : model_dir_(std::move(model_dir)) {}

  // The model in the directory whose sha256 equals `sha256` (when not
  // empty) or, without a sha256, whose name equals `name`.
  // FailedPrecondition naming the directory when no file matches.
  absl::StatusOr<ModelIdentity> Find(const std::string& name,
                                     const std::string& sha256);

  const std::string& model_dir() const { return model_dir_; }

 private:
  absl::StatusOr<std::string> CachedSha256(const std::string& path);

  const std::string model_dir_;
  absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::string> hash_cache_
      ABSL_GUARDED_BY(mutex_);  // "path|size|mtime" -> sha256
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_MODEL_REGISTRY_H_
