#include "kernels/owned_ranges.h"

#include <algorithm>

#include "common/logging.h"

namespace tessera::kernels {
namespace {

uint64_t Pack(int64_t front, int64_t back) {
  return static_cast<uint64_t>(front) | (static_cast<uint64_t>(back) << 32);
}
int64_t Front(uint64_t bounds) { return bounds & 0xffffffffu; }
int64_t Back(uint64_t bounds) { return bounds >> 32; }

}  // namespace

OwnedRanges::OwnedRanges(int parts)
    : parts_(parts), bounds_(new std::atomic<uint64_t>[parts]) {
  CHECK(parts >= 1) << "OwnedRanges needs at least one part";
  Reset(0);
}

void OwnedRanges::Reset(int64_t units) {
  CHECK(units >= 0 && units < (int64_t{1} << 31)) << "units " << units;
  const int64_t base = units / parts_, extra = units % parts_;
  int64_t begin = 0;
  for (int r = 0; r < parts_; ++r) {
    const int64_t end = begin + base + (r < extra ? 1 : 0);
    bounds_[r].store(Pack(begin, end), std::memory_order_relaxed);
    begin = end;
  }
}

bool OwnedRanges::ClaimFront(int range, int64_t* begin, int64_t* end) {
  std::atomic<uint64_t>& bounds = bounds_[range];
  uint64_t cur = bounds.load(std::memory_order_relaxed);
  while (true) {
    const int64_t f = Front(cur), b = Back(cur);
    if (f >= b) return false;
    const int64_t take = std::max<int64_t>(1, (b - f) / 2);
    if (bounds.compare_exchange_weak(cur, Pack(f + take, b),
                                     std::memory_order_relaxed)) {
      *begin = f;
      *end = f + take;
      return true;
    }
  }
}

bool OwnedRanges::ClaimBack(int range, int64_t* begin, int64_t* end) {
  std::atomic<uint64_t>& bounds = bounds_[range];
  uint64_t cur = bounds.load(std::memory_order_relaxed);
  while (true) {
    const int64_t f = Front(cur), b = Back(cur);
    if (f >= b) return false;
    if (bounds.compare_exchange_weak(cur, Pack(f, b - 1),
                                     std::memory_order_relaxed)) {
      *begin = b - 1;
      *end = b;
      return true;
    }
  }
}

bool OwnedRanges::Claim(int home, int64_t* begin, int64_t* end) {
  if (ClaimFront(home, begin, end)) return true;
  for (int i = 1; i < parts_; ++i) {
    if (ClaimBack((home + i) % parts_, begin, end)) return true;
  }
  return false;
}

}  // namespace tessera::kernels
