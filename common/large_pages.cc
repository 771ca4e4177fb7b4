#include "common/large_pages.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/mapped_file.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace tessera {
namespace {

uintptr_t RoundUp(uintptr_t v, uintptr_t to) { return (v + to - 1) / to * to; }

}  // namespace

bool AdviseHugePages(const void* addr, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const auto begin = RoundUp(reinterpret_cast<uintptr_t>(addr), kHugePageBytes);
  const auto end = (reinterpret_cast<uintptr_t>(addr) + bytes) /
                   kHugePageBytes * kHugePageBytes;
  if (end <= begin) return false;
  return ::madvise(reinterpret_cast<void*>(begin), end - begin,
                   MADV_HUGEPAGE) == 0;
#else
  (void)addr;
  (void)bytes;
  return false;
#endif
}

absl::StatusOr<size_t> ProcessHugePageBytes() {
  auto text = ReadFileToString("/proc/self/smaps_rollup");
  if (!text.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "huge page use is unknown here: ", text.status().message()));
  }
  // Lines such as "AnonHugePages:    524288 kB".
  size_t total = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    for (absl::string_view key :
         {"AnonHugePages:", "FilePmdMapped:", "ShmemPmdMapped:"}) {
      if (!absl::ConsumePrefix(&line, key)) continue;
      uint64_t kb = 0;
      if (absl::ConsumeSuffix(&line, "kB") &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kb)) {
        total += static_cast<size_t>(kb) * 1024;
      }
    }
  }
  return total;
}

absl::StatusOr<LargePageBuffer> LargePageBuffer::Allocate(size_t bytes) {
  LargePageBuffer b;
  if (bytes == 0) return b;
#if defined(__linux__)
  if (bytes >= kHugePageBytes) {
    // Over-map by one huge page, then trim to a 2 MiB-aligned range. The
    // range ends at the page after the buffer, not at the next 2 MiB: its
    // partial last 2 MiB stays in small pages, so no tail of a huge page
    // is resident without use.
    const size_t length =
        RoundUp(bytes, static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE)));
    void* raw = ::mmap(nullptr, length + kHugePageBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "cannot map ", bytes, " bytes: ", std::strerror(errno)));
    }
    const auto start = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = RoundUp(start, kHugePageBytes);
    if (aligned > start) ::munmap(raw, aligned - start);
    const uintptr_t tail = aligned + length;
    const uintptr_t raw_end = start + length + kHugePageBytes;
    if (raw_end > tail) ::munmap(reinterpret_cast<void*>(tail), raw_end - tail);
    b.data_ = reinterpret_cast<uint8_t*>(aligned);
    b.size_ = bytes;
    b.mapped_ = length;
    AdviseHugePages(b.data_, length);
    return b;
  }
#endif
  void* p = std::aligned_alloc(64, RoundUp(bytes, 64));
  if (p == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate ", bytes, " bytes"));
  }
  std::memset(p, 0, bytes);
  b.data_ = static_cast<uint8_t*>(p);
  b.size_ = bytes;
  return b;
}

LargePageBuffer& LargePageBuffer::operator=(LargePageBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

void LargePageBuffer::Release() {
  if (data_ == nullptr) return;
#if defined(__linux__)
  if (mapped_ != 0) {
    ::munmap(data_, mapped_);
    data_ = nullptr;
    return;
  }
#endif
  std::free(data_);
  data_ = nullptr;
}

}  // namespace tessera
