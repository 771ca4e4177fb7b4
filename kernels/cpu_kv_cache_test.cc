#include "kernels/cpu_kv_cache.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/simd.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

TEST(KvCacheTest, SizesFollowLayersDimsAndType) {
  KvCache f32(3, 8, GgmlType::kF32, 1 << 20);
  EXPECT_EQ(f32.bytes_per_token(), 3 * 2 * 8 * 4);
  EXPECT_EQ(f32.page_bytes(), KvCache::kPageTokens * 3 * 2 * 8 * 4);
  KvCache f16(3, 8, GgmlType::kF16, 1 << 20);
  EXPECT_EQ(f16.bytes_per_token(), 3 * 2 * 8 * 2);
  EXPECT_TRUE(f16.f16());
}

TEST(KvCacheTest, ReservesWholePagesAndReleases) {
  KvCache cache(2, 4, GgmlType::kF32, 1 << 20);
  ASSERT_TRUE(cache.Reserve({{1, 1}}).ok());
  EXPECT_EQ(cache.reserved_bytes(), cache.page_bytes());
  ASSERT_TRUE(cache.Reserve({{1, KvCache::kPageTokens}, {2, 1}}).ok());
  EXPECT_EQ(cache.reserved_bytes(), 2 * cache.page_bytes());
  ASSERT_TRUE(cache.Reserve({{1, KvCache::kPageTokens + 1}}).ok());
  EXPECT_EQ(cache.reserved_bytes(), 3 * cache.page_bytes());
  EXPECT_TRUE(cache.Contains(2));
  EXPECT_EQ(cache.Length(2), 0);
  ASSERT_TRUE(cache.Release(1).ok());
  EXPECT_EQ(cache.reserved_bytes(), cache.page_bytes());
  EXPECT_EQ(cache.Release(1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.Length(1), 0);
}

TEST(KvCacheTest, ReleasedPagesServeTheNextSessions) {
  KvCache cache(2, 4, GgmlType::kF32,
                3 * KvCache(2, 4, GgmlType::kF32, 0).page_bytes());
  const int64_t page = cache.page_bytes();
  ASSERT_TRUE(cache.Reserve({{1, KvCache::kPageTokens + 1}}).ok());
  const uint8_t* first = cache.View(1, 0).KeyBlock(0);
  const uint8_t* second = cache.View(1, 0).KeyBlock(1);
  ASSERT_TRUE(cache.Release(1).ok());
  EXPECT_EQ(cache.reserved_bytes(), 0);
  EXPECT_EQ(cache.cached_bytes(), 2 * page);
  // A new session takes cached pages before new ones; cached pages do not
  // count against the budget, so three pages still fit.
  ASSERT_TRUE(cache.Reserve({{2, 1}}).ok());
  const uint8_t* reused = cache.View(2, 0).KeyBlock(0);
  EXPECT_TRUE(reused == first || reused == second);
  EXPECT_EQ(cache.cached_bytes(), page);
  ASSERT_TRUE(cache.Reserve({{3, 2 * KvCache::kPageTokens}}).ok());
  EXPECT_EQ(cache.reserved_bytes(), 3 * page);
  EXPECT_EQ(cache.cached_bytes(), 0);
  EXPECT_EQ(cache.Reserve({{4, 1}}).code(),
            absl::StatusCode::kResourceExhausted);
  // Stored values survive in a session that reuses pages.
  const std::vector<float> row = {1, 2, 3, 4};
  cache.Store(2, 1, 0, row.data(), row.data());
  const auto* values =
      reinterpret_cast<const float*>(cache.View(2, 1).ValueBlock(0));
  EXPECT_EQ(std::vector<float>(values, values + 4), row);
}

TEST(KvCacheTest, BudgetIsAllOrNothing) {
  KvCache cache(1, 4, GgmlType::kF32, 0);
  const int64_t page = KvCache(1, 4, GgmlType::kF32, 0).page_bytes();
  KvCache small(1, 4, GgmlType::kF32, 2 * page);
  ASSERT_TRUE(small.Reserve({{1, 10}}).ok());
  const absl::Status s = small.Reserve({{2, 10}, {3, 10}});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(small.Contains(2));
  EXPECT_FALSE(small.Contains(3));
  EXPECT_EQ(small.reserved_bytes(), page);
  EXPECT_TRUE(small.Reserve({{2, 10}}).ok());
  EXPECT_EQ(cache.Reserve({{1, 1}}).code(),
            absl::StatusCode::kResourceExhausted);
}

// Keys are stored dimension-major per page, values token-major; every
// (layer, kind, token, dimension) has its own place.
TEST(KvCacheTest, StoredKeysAndValuesReadBackInThePageLayout) {
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16}) {
    KvCache cache(2, 3, type, 1 << 20);
    const int64_t tokens = KvCache::kPageTokens + 5;
    ASSERT_TRUE(cache.Reserve({{9, tokens}}).ok());
    for (int64_t l = 0; l < 2; ++l) {
      for (int64_t t = 0; t < tokens; ++t) {
        const float k[3] = {float(l), float(t), 0.5f};
        const float v[3] = {float(-l), float(-t), 0.25f};
        cache.Store(9, l, t, k, v);
      }
    }
    auto read = [&](const uint8_t* block, int64_t index) {
      return type == GgmlType::kF16
                 ? simd::HalfToFloat(
                       reinterpret_cast<const uint16_t*>(block)[index])
                 : reinterpret_cast<const float*>(block)[index];
    };
    constexpr int64_t kPage = KvCache::kPageTokens;
    for (int64_t l = 0; l < 2; ++l) {
      const KvLayerView view = cache.View(9, l);
      for (int64_t t = 0; t < tokens; ++t) {
        const uint8_t* keys = view.KeyBlock(t / kPage);
        const uint8_t* values = view.ValueBlock(t / kPage);
        const int64_t i = t % kPage;
        EXPECT_EQ(read(keys, 0 * kPage + i), l);
        EXPECT_EQ(read(keys, 1 * kPage + i), t);
        EXPECT_EQ(read(keys, 2 * kPage + i), 0.5f);
        EXPECT_EQ(read(values, i * 3 + 0), -l);
        EXPECT_EQ(read(values, i * 3 + 1), -t);
        EXPECT_EQ(read(values, i * 3 + 2), 0.25f);
      }
    }
    cache.SetLength(9, tokens);
    EXPECT_EQ(cache.Length(9), tokens);
  }
}

}  // namespace
}  // namespace tessera::kernels
