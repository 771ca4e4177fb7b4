// The Q4_0 tile layout: Q4_0 weight rows rearranged, at load time, for the
// AVX-512 decode kernel (cpu_ops_avx512_q4_tiles.cc), and the matching
// layout of quantised activations.
//
// A row of nb GGUF blocks (18 bytes: fp16 scale, then 16 bytes holding
// values j and 16 + j in the low and high nibble of byte j) keeps its size
// and is cut into tiles of up to 16 blocks: tile t holds the m =
// min(16, nb - 16t) blocks from 16t at byte 288t, as
//   part k (k < 4) at byte 4mk: lane l (4 bytes) = bytes 4k..4k+3 of block
//                  16t + l's quants;
//   scales at byte 16m: the m fp16 scales.
// So in a full tile each 32-bit lane of the four 64-byte parts belongs to
// one block, the same block in every part: one integer accumulator lane
// per block, and one float conversion per 16 blocks instead of one per 3.6
// blocks in the stream layout. The kernel's arithmetic per weight byte
// halves, which matters when the memory bus is fast enough for compute to
// show (see cpu_ops_avx512.h).
//
// Activation tiles (kQ4TileActBytes per tile of an activation row, lanes
// past the row zero): lo part k (byte 64k) lane l = values 4k..4k+3 of
// block 16t + l, hi part k (byte 256 + 64k) = values 16 + 4k..16 + 4k + 3,
// then int32 corrections (byte 512: -offset x the block's sum) and float
// scales (byte 576).
#ifndef TESSERA_KERNELS_Q4_TILES_H_
#define TESSERA_KERNELS_Q4_TILES_H_

#include <algorithm>
#include <cstdint>

namespace tessera::kernels {

inline constexpr int64_t kQ4TileBlocks = 16;
inline constexpr int64_t kQ4TileBytes = 288;  // a full tile: 16 x 18
inline constexpr int64_t kQ4TileActBytes = 640;
inline constexpr int64_t kQ4TileActHi = 256;
inline constexpr int64_t kQ4TileActCorr = 512;
inline constexpr int64_t kQ4TileActScale = 576;

// Tiles of a row of `blocks` blocks.
inline int64_t Q4Tiles(int64_t blocks) {
  return (blocks + kQ4TileBlocks - 1) / kQ4TileBlocks;
}

// Rearranges one GGUF Q4_0 row of `blocks` blocks into the tile layout, and
// back. `src` and `dst` are 18 x blocks bytes and do not overlap.
void TileQ4Row(const uint8_t* src, int64_t blocks, uint8_t* dst);
void UntileQ4Row(const uint8_t* src, int64_t blocks, uint8_t* dst);

// Where block b of a tiled row of `blocks` blocks lies: its fp16 scale, and
// its quant bytes 4k..4k+3 at quads + k x quad_stride.
struct Q4TiledBlock {
  const uint8_t* scale;
  const uint8_t* quads;
  int64_t quad_stride;
};
inline Q4TiledBlock LocateTiledBlock(const uint8_t* row, int64_t blocks,
                                     int64_t b) {
  const int64_t t = b / kQ4TileBlocks, l = b % kQ4TileBlocks;
  const int64_t m = std::min(kQ4TileBlocks, blocks - kQ4TileBlocks * t);
  const uint8_t* tile = row + t * kQ4TileBytes;
  return {tile + 16 * m + 2 * l, tile + 4 * l, 4 * m};
}

// Writes the activation tiles of one quantised row: qs, scales and
// block_corr of `blocks` blocks as QuantizeRow writes them (its offset is
// the one the weights were made unsigned by). REQUIRES: `out` holds
// Q4Tiles(blocks) x kQ4TileActBytes bytes, 4-byte aligned.
void TileActivationRow(const int8_t* qs, const float* scales,
                       const int32_t* block_corr, int64_t blocks,
                       uint8_t* out);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_Q4_TILES_H_
