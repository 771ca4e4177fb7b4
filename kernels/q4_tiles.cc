#include "kernels/q4_tiles.h"

#include <cstring>

namespace tessera::kernels {
namespace {

constexpr int64_t kBlockBytes = 18;

}  // namespace

void TileQ4Row(const uint8_t* src, int64_t blocks, uint8_t* dst) {
  for (int64_t b = 0; b < blocks; ++b) {
    const Q4TiledBlock at = LocateTiledBlock(dst, blocks, b);
    const uint8_t* block = src + b * kBlockBytes;
    std::memcpy(const_cast<uint8_t*>(at.scale), block, 2);
    for (int k = 0; k < 4; ++k) {
      std::memcpy(const_cast<uint8_t*>(at.quads + k * at.quad_stride),
                  block + 2 + 4 * k, 4);
    }
  }
}

void UntileQ4Row(const uint8_t* src, int64_t blocks, uint8_t* dst) {
  for (int64_t b = 0; b < blocks; ++b) {
    const Q4TiledBlock at = LocateTiledBlock(src, blocks, b);
    uint8_t* block = dst + b * kBlockBytes;
    std::memcpy(block, at.scale, 2);
    for (int k = 0; k < 4; ++k) {
      std::memcpy(block + 2 + 4 * k, at.quads + k * at.quad_stride, 4);
    }
  }
}

void TileActivationRow(const int8_t* qs, const float* scales,
                       const int32_t* block_corr, int64_t blocks,
                       uint8_t* out) {
  std::memset(out, 0, Q4Tiles(blocks) * kQ4TileActBytes);
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* tile = out + (b / kQ4TileBlocks) * kQ4TileActBytes;
    const int64_t l = b % kQ4TileBlocks;
    const int8_t* q = qs + b * 32;
    for (int k = 0; k < 4; ++k) {
      std::memcpy(tile + 64 * k + 4 * l, q + 4 * k, 4);
      std::memcpy(tile + kQ4TileActHi + 64 * k + 4 * l, q + 16 + 4 * k, 4);
    }
    std::memcpy(tile + kQ4TileActCorr + 4 * l, &block_corr[b], 4);
    std::memcpy(tile + kQ4TileActScale + 4 * l, &scales[b], 4);
  }
}

}  // namespace tessera::kernels
