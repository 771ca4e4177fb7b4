// Unaligned little-endian loads from weight bytes (GGUF blocks put their
// fp16 scales and quants at any byte offset), for the CPU kernel files.
#ifndef TESSERA_KERNELS_UNALIGNED_H_
#define TESSERA_KERNELS_UNALIGNED_H_

#include <cstdint>
#include <cstring>

namespace tessera::kernels {

inline uint32_t LoadU16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline uint32_t LoadU32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_UNALIGNED_H_
