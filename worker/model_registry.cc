#include "worker/model_registry.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"

namespace tessera::worker {

namespace fs = std::filesystem;

absl::StatusOr<ModelIdentity> IdentifyModel(const std::string& path) {
  ModelIdentity id;
  id.path = path;
  id.name = fs::path(path).stem().string();
  absl::StatusOr<std::string> sha = Sha256OfFile(path);
  if (!sha.ok()) return sha.status();
  id.sha256 = *sha;
  return id;
}

absl::StatusOr<std::string> ModelRegistry::CachedSha256(
    const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
  const std::string key = absl::StrCat(path, "|", size, "|", mtime);
  {
    absl::MutexLock lock(&mutex_);
    auto it = hash_cache_.find(key);
    if (it != hash_cache_.end()) return it->second;
  }
  absl::StatusOr<std::string> sha = Sha256OfFile(path);
  if (!sha.ok()) return sha.status();
  absl::MutexLock lock(&mutex_);
  hash_cache_[key] = *sha;
  return sha;
}

absl::StatusOr<ModelIdentity> ModelRegistry::Find(const std::string& name,
                                                  const std::string& sha256) {
  std::error_code ec;
  std::vector<std::string> seen;
  for (const auto& entry : fs::directory_iterator(model_dir_, ec)) {
    const fs::path& path = entry.path();
    if (path.extension() != ".gguf" || !entry.is_regular_file(ec)) continue;
    seen.push_back(path.filename().string());
    if (sha256.empty()) {
      if (path.stem().string() != name) continue;
      return IdentifyModel(path.string());
    }
    absl::StatusOr<std::string> sha = CachedSha256(path.string());
    if (!sha.ok() || *sha != sha256) continue;
    return ModelIdentity{path.stem().string(), *sha, path.string()};
  }
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot list model directory ", model_dir_, ": ", ec.message()));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "model ", name.empty() ? "" : name + " ", "(sha256 ",
      sha256.empty() ? "any" : sha256.substr(0, 16), ") not found in ",
      model_dir_, " (", seen.size(), " gguf files: ",
      absl::StrJoin(seen, ", "), ")"));
}

}  // namespace tessera::worker
