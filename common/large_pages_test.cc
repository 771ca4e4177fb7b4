#include "common/large_pages.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(LargePageBufferTest, SmallAndLargeBuffersAreAlignedAndZeroed) {
  for (size_t bytes : {size_t{1}, size_t{4096}, kHugePageBytes - 1,
                       kHugePageBytes, 3 * kHugePageBytes + 5}) {
    auto b = LargePageBuffer::Allocate(bytes);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_NE(b->data(), nullptr);
    EXPECT_EQ(b->size(), bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % 64, 0u);
    if (bytes >= kHugePageBytes) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % kHugePageBytes, 0u);
    }
    for (size_t i = 0; i < bytes; i += 997) ASSERT_EQ(b->data()[i], 0);
    EXPECT_EQ(b->data()[bytes - 1], 0);
    b->data()[bytes - 1] = 7;  // writable to the last byte
  }
}

TEST(LargePageBufferTest, EmptyBufferHasNoMemory) {
  auto b = LargePageBuffer::Allocate(0);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->data(), nullptr);
  EXPECT_EQ(b->size(), 0u);
}

TEST(LargePageBufferTest, MovesOwnership) {
  auto a = LargePageBuffer::Allocate(kHugePageBytes);
  ASSERT_TRUE(a.ok());
  uint8_t* data = a->data();
  LargePageBuffer b = std::move(*a);
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(a->data(), nullptr);
  EXPECT_EQ(a->size(), 0u);
  std::vector<LargePageBuffer> many;
  many.push_back(std::move(b));
  many.resize(8);  // moved again on reallocation
  EXPECT_EQ(many[0].data(), data);
}

TEST(LargePageBufferTest, ImpossibleSizeIsAnError) {
  auto b = LargePageBuffer::Allocate(size_t{1} << 62);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ProcessHugePageBytesTest, ReadsTheCountersOrSaysTheyAreUnknown) {
  auto bytes = ProcessHugePageBytes();
  if (!bytes.ok()) {
    EXPECT_EQ(bytes.status().code(), absl::StatusCode::kUnavailable);
    return;
  }
  EXPECT_EQ(*bytes % 1024, 0u);
}

TEST(AdviseHugePagesTest, RangesWithoutAWholeHugePageAreNotAdvised) {
  std::vector<uint8_t> small(4096);
  EXPECT_FALSE(AdviseHugePages(small.data(), small.size()));
  EXPECT_FALSE(AdviseHugePages(nullptr, 0));
}

}  // namespace
}  // namespace tessera
