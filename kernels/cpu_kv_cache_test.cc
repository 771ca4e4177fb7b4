#include "kernels/cpu_kv_cache.h"

#include <cstring>

#include "gtest/gtest.h"

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
  EXPECT_EQ(cache.Reserve({{1, 1}}).code(), absl::StatusCode::kResourceExhausted);
}

TEST(KvCacheTest, RowsOfLayersKindsAndTokensAreDistinct) {
  KvCache cache(2, 3, GgmlType::kF32, 1 << 20);
  const int64_t tokens = KvCache::kPageTokens + 5;
  ASSERT_TRUE(cache.Reserve({{9, tokens}}).ok());
  for (int64_t l = 0; l < 2; ++l) {
    for (int kind = 0; kind < 2; ++kind) {
      for (int64_t t = 0; t < tokens; ++t) {
        const float v[3] = {float(l), float(kind), float(t)};
        std::memcpy(cache.MutableRow(9, l, t, kind), v, sizeof(v));
      }
    }
  }
  for (int64_t l = 0; l < 2; ++l) {
    const KvLayerView view = cache.View(9, l);
    for (int64_t t = 0; t < tokens; ++t) {
      const auto* k = reinterpret_cast<const float*>(view.Key(t));
      const auto* v = reinterpret_cast<const float*>(view.Value(t));
      EXPECT_EQ(k[0], l);
      EXPECT_EQ(k[1], 0);
      EXPECT_EQ(k[2], t);
      EXPECT_EQ(v[1], 1);
      EXPECT_EQ(v[2], t);
    }
  }
  cache.SetLength(9, tokens);
  EXPECT_EQ(cache.Length(9), tokens);
}

}  // namespace
}  // namespace tessera::kernels
