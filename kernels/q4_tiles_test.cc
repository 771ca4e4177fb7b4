#include "kernels/q4_tiles.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu_ops_quant.h"

namespace tessera::kernels {
namespace {

// A row of `blocks` blocks whose every byte is distinct modulo 251.
std::vector<uint8_t> DistinctRow(int64_t blocks) {
  std::vector<uint8_t> row(18 * blocks);
  for (size_t i = 0; i < row.size(); ++i) {
    row[i] = static_cast<uint8_t>(i % 251);
  }
  return row;
}

TEST(Q4TilesTest, TilingKeepsEveryByteAndRoundTrips) {
  for (int64_t blocks : {1, 15, 16, 17, 28, 40, 176}) {
    const std::vector<uint8_t> row = DistinctRow(blocks);
    std::vector<uint8_t> tiled(row.size()), back(row.size());
    TileQ4Row(row.data(), blocks, tiled.data());
    UntileQ4Row(tiled.data(), blocks, back.data());
    EXPECT_EQ(back, row) << blocks << " blocks";
    for (int64_t b = 0; b < blocks; ++b) {
      const Q4TiledBlock at = LocateTiledBlock(tiled.data(), blocks, b);
      EXPECT_EQ(std::memcmp(at.scale, row.data() + 18 * b, 2), 0);
      for (int k = 0; k < 4; ++k) {
        EXPECT_EQ(std::memcmp(at.quads + k * at.quad_stride,
                              row.data() + 18 * b + 2 + 4 * k, 4),
                  0)
            << blocks << " blocks, block " << b << " part " << k;
      }
    }
  }
}

TEST(Q4TilesTest, AFullTileKeepsEachBlockInOneLane) {
  const std::vector<uint8_t> row = DistinctRow(16);
  std::vector<uint8_t> tiled(row.size());
  TileQ4Row(row.data(), 16, tiled.data());
  // Part k, lane l: bytes 4k..4k+3 of block l; then the 16 scales.
  for (int k = 0; k < 4; ++k) {
    for (int l = 0; l < 16; ++l) {
      EXPECT_EQ(tiled[64 * k + 4 * l], row[18 * l + 2 + 4 * k]);
    }
  }
  for (int l = 0; l < 16; ++l) EXPECT_EQ(tiled[256 + 2 * l], row[18 * l]);
}

TEST(Q4TilesTest, ActivationTilesMeetTheWeightLanes) {
  const int64_t blocks = 17;  // a full tile and one block
  std::vector<float> x(32 * blocks);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) - 48;
  std::vector<int8_t> qs(x.size());
  std::vector<float> scales(blocks);
  std::vector<int32_t> block_corr(blocks), quad_corr(x.size() / 4);
  QuantizeRow(x.data(), 32 * blocks, 8, qs.data(), scales.data(),
              block_corr.data(), quad_corr.data());
  std::vector<uint8_t> out(Q4Tiles(blocks) * kQ4TileActBytes);
  TileActivationRow(qs.data(), scales.data(), block_corr.data(), blocks,
                    out.data());
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* tile = out.data() + (b / 16) * kQ4TileActBytes;
    const int64_t l = b % 16;
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) sum += qs[32 * b + j];
    for (int k = 0; k < 4; ++k) {
      for (int j = 0; j < 4; ++j) {
        EXPECT_EQ(static_cast<int8_t>(tile[64 * k + 4 * l + j]),
                  qs[32 * b + 4 * k + j]);
        EXPECT_EQ(static_cast<int8_t>(tile[kQ4TileActHi + 64 * k + 4 * l + j]),
                  qs[32 * b + 16 + 4 * k + j]);
      }
    }
    int32_t corr;
    float scale;
    std::memcpy(&corr, tile + kQ4TileActCorr + 4 * l, 4);
    std::memcpy(&scale, tile + kQ4TileActScale + 4 * l, 4);
    EXPECT_EQ(corr, -8 * sum);
    EXPECT_EQ(scale, scales[b]);
  }
  // The second tile's lanes past its one block are zero.
  const uint8_t* last = out.data() + kQ4TileActBytes;
  for (int64_t i = 0; i < kQ4TileActBytes; ++i) {
    const int64_t lane = (i % 64) / 4;
    if (lane != 0) {
      EXPECT_EQ(last[i], 0) << i;
    }
  }
}

}  // namespace
}  // namespace tessera::kernels
