#include "kernels/thread_pool.h"

#include <algorithm>
#include <chrono>

#include "common/logging.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tessera::kernels {
namespace {

// How long an idle worker spins before sleeping. Long enough to bridge the
// serial gaps between the parallel regions of one decode step, short enough
// not to steal a shared machine's cores for long.
constexpr auto kSpinTime = std::chrono::microseconds(200);
constexpr int64_t kMaxChunks = 0xffff;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(num_threads) {
  CHECK(num_threads >= 1) << "ThreadPool needs at least one thread";
  workers_.reserve(num_threads - 1);
  for (int i = 1; i < num_threads; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (std::thread& t : workers_) t.join();
}

uint32_t ThreadPool::AwaitRegion(uint32_t seen) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (int i = 0;; ++i) {
    const uint32_t g = generation_.load(std::memory_order_acquire);
    if (g != seen) return g;
    CpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) break;
  }
  // Announce the sleep before re-checking: the dispatcher bumps the counter
  // and then reads `sleepers_` (both seq_cst), so either it sees us and
  // notifies, or wait() sees the new counter value and returns at once.
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  uint32_t g;
  while ((g = generation_.load(std::memory_order_seq_cst)) == seen) {
    generation_.wait(seen, std::memory_order_seq_cst);
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  return g;
}

void ThreadPool::WorkerLoop(int thread_index) {
  uint32_t seen = 0;
  while (true) {
    seen = AwaitRegion(seen);
    if (stop_.load(std::memory_order_relaxed)) return;
    Drain(thread_index);
  }
}

void ThreadPool::Drain(int thread_index) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  while (true) {
    const int64_t next = static_cast<int64_t>(c & 0xffff);
    const int64_t chunks = static_cast<int64_t>((c >> 16) & 0xffff);
    if (next >= chunks) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;  // `c` now holds the current word
    }
    // The chunk is ours and incomplete, so the region (fn_, n_, grain_) is
    // live until we report it done.
    const int64_t begin = next * grain_;
    (*fn_)(begin, std::min(n_, begin + grain_), thread_index);
    done_.fetch_add(1, std::memory_order_acq_rel);
    c += 1;  // the expected word if nobody else claimed meanwhile
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain, ChunkFn fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  grain = std::max<int64_t>(grain, (n + kMaxChunks - 1) / kMaxChunks);
  const int64_t chunks = (n + grain - 1) / grain;
  if (chunks == 1 || num_threads_ == 1) {
    for (int64_t begin = 0; begin < n; begin += grain) {
      fn(begin, std::min(n, begin + grain), 0);
    }
    return;
  }
  fn_ = &fn;
  n_ = n;
  grain_ = grain;
  done_.store(0, std::memory_order_relaxed);
  ++region_;
  claim_.store(
      (uint64_t{region_} << 32) | (static_cast<uint64_t>(chunks) << 16),
      std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
  Drain(0);
  // Only chunks that another thread is running remain; yield when that
  // thread has been descheduled so it can finish on this core.
  for (int i = 0; done_.load(std::memory_order_acquire) < chunks; ++i) {
    if (i < 4096) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
  fn_ = nullptr;
}

void ThreadPool::Run(absl::FunctionRef<void(int)> fn) {
  ParallelFor(num_threads_, 1, [&](int64_t begin, int64_t, int) {
    fn(static_cast<int>(begin));
  });
}

}  // namespace tessera::kernels
