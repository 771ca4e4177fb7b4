// SHA-256 (FIPS 180-4), used to identify model files across machines.
// Sha256 is a streaming hasher; not thread-safe (one per thread).
#ifndef TESSERA_COMMON_SHA256_H_
#define TESSERA_COMMON_SHA256_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  // The digest; the hasher must not be used afterwards.
  std::array<uint8_t, 32> Finish();
  // Lowercase hex digest.
  std::string FinishHex();

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lowercase hex SHA-256 of a whole file, read in chunks. NotFound /
// Internal on I/O errors.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

}  // namespace tessera

#endif  // TESSERA_COMMON_SHA256_H_
