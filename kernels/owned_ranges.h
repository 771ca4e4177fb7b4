// OwnedRanges: lock-free scheduling of units of work [0, units) over the
// threads of a parallel region, for work that streams memory (decode
// matrix products).
//
// The units are split into one contiguous range per thread. The owner of a
// range claims from its front in shrinking runs (half of what is left, at
// least one unit), so each thread reads one long sequential stretch for
// most of the region. A thread whose own range is empty takes single units
// from the back of the other ranges, so the threads finish within about one
// unit of each other even when they run at different speeds (a schedule of
// shared shrinking items cannot rebalance its first, largest item).
//
// Thread-safety: Reset is called before the region, by one thread; Claim
// from any number of threads during it. Every unit is claimed exactly once.
#ifndef TESSERA_KERNELS_OWNED_RANGES_H_
#define TESSERA_KERNELS_OWNED_RANGES_H_

#include <atomic>
#include <cstdint>
#include <memory>

namespace tessera::kernels {

class OwnedRanges {
 public:
  // REQUIRES: parts >= 1.
  explicit OwnedRanges(int parts);

  int parts() const { return parts_; }

  // Splits [0, units) into parts() ranges of equal size (the first ones one
  // unit longer). REQUIRES: 0 <= units < 2^31.
  void Reset(int64_t units);

  // Claims the next run [*begin, *end) for a thread whose own range is
  // `home` (0 <= home < parts()): from the front of that range, else one
  // unit from the back of another. False once every unit is claimed.
  bool Claim(int home, int64_t* begin, int64_t* end);

 private:
  bool ClaimFront(int range, int64_t* begin, int64_t* end);
  bool ClaimBack(int range, int64_t* begin, int64_t* end);

  const int parts_;
  // Per range: front in the low 32 bits, back (exclusive) in the high ones.
  std::unique_ptr<std::atomic<uint64_t>[]> bounds_;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OWNED_RANGES_H_
