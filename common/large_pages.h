// Transparent huge pages for the large, read-mostly buffers of a model:
// its weights, whether mapped from the file or converted into memory.
//
// Decode reads every weight byte once per token as a few long sequential
// streams. With 4 KiB pages such a stream takes a TLB miss every 64 cache
// lines (a two-level page walk under a hypervisor) and the hardware
// prefetcher stops at every page boundary; with 2 MiB pages neither
// happens. On the development machine (a KVM guest) the Q4_0 decode kernel
// on two cores read 30-36 GB/s from 4 KiB pages and 53-58 GB/s from 2 MiB
// pages in windows where plain reads reached 70-79 GB/s.
//
// Everything here is best effort: where the kernel has no transparent huge
// pages (or other systems) the memory is simply in small pages.
#ifndef TESSERA_COMMON_LARGE_PAGES_H_
#define TESSERA_COMMON_LARGE_PAGES_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"

namespace tessera {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Advises the kernel to back the 2 MiB-aligned part of [addr, addr + bytes)
// with transparent huge pages (Linux MADV_HUGEPAGE), for anonymous memory
// and for read-only file mappings alike. Returns whether the advice was
// given to a non-empty range and taken.
bool AdviseHugePages(const void* addr, size_t bytes);

// Bytes of this process's memory now mapped by huge pages (anonymous and
// file-backed; /proc/self/smaps_rollup). Unavailable where that is unknown.
absl::StatusOr<size_t> ProcessHugePageBytes();

// A zero-filled, 64-byte aligned buffer that owns its memory. Buffers of at
// least kHugePageBytes are anonymous mappings, 2 MiB aligned and advised
// for huge pages over their whole 2 MiB units (a partial last one stays in
// small pages); smaller ones come from the heap. Move-only.
class LargePageBuffer {
 public:
  LargePageBuffer() = default;
  // ResourceExhausted when the memory cannot be had.
  static absl::StatusOr<LargePageBuffer> Allocate(size_t bytes);

  ~LargePageBuffer() { Release(); }
  LargePageBuffer(LargePageBuffer&& other) noexcept { *this = std::move(other); }
  LargePageBuffer& operator=(LargePageBuffer&& other) noexcept;
  LargePageBuffer(const LargePageBuffer&) = delete;
  LargePageBuffer& operator=(const LargePageBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // length of the mapping; 0 for heap memory
};

}  // namespace tessera

#endif  // TESSERA_COMMON_LARGE_PAGES_H_
