// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// activation frames. Uses the SSE4.2 crc32 instruction when the build
// targets it and a byte-wise table otherwise; both give identical results.
// Thread-safe (no mutable state after static initialisation).
#ifndef TESSERA_WORKER_CRC32C_H_
#define TESSERA_WORKER_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace tessera::worker {

// Returns the CRC-32C of data[0, n) continuing from `crc` (0 to start).
// Extend(Extend(0, a), b) == Extend(0, a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) {
  return Crc32cExtend(0, data, n);
}

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_CRC32C_H_
