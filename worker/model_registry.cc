#include "worker/model_registry.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tessera::worker {

namespace fs = std::filesystem;

absl::StatusOr<std::string> Sha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), buffer.size());
    if (in.gcount() > 0) EVP_DigestUpdate(ctx, buffer.data(), in.gcount());
  }
  const bool failed = in.bad();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  if (failed) return absl::InternalError(absl::StrCat("read error in ", path));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

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
