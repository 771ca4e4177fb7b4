// ThreadPool: a fixed set of persistent worker threads for data-parallel
// kernels with low dispatch overhead (decode runs ~100 parallel regions per
// token, so a region must start in about a microsecond).
//
// A region is a range of chunks that the calling thread (thread 0) and the
// workers claim one at a time from a shared atomic word. The caller returns
// as soon as every chunk has been *completed*, whoever ran it: a worker that
// is descheduled (a busy machine) or asleep never delays a region it did not
// join, it just finds nothing left to claim. Between regions a worker spins
// briefly on the region counter, then sleeps on a futex-backed std::atomic
// wait, so an idle pool costs no CPU while back-to-back regions never pay a
// wake-up.
//
// Thread-safety: ParallelFor() and Run() must not be called concurrently or
// re-entered from inside a region (one dispatcher at a time); the pool is
// otherwise safe to use from any single thread.
#ifndef TESSERA_KERNELS_THREAD_POOL_H_
#define TESSERA_KERNELS_THREAD_POOL_H_

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"

namespace tessera::kernels {

class ThreadPool {
 public:
  using ChunkFn =
      absl::FunctionRef<void(int64_t begin, int64_t end, int thread_index)>;

  // REQUIRES: num_threads >= 1.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Splits [0, n) into chunks of `grain` items (the last may be shorter;
  // grain is raised if there would be more than 65535 chunks) and calls
  // fn(begin, end, thread_index) once per chunk, chunks handed out
  // dynamically. thread_index (0 = the caller) identifies the running
  // thread, so per-thread scratch may be indexed by it. Returns when every
  // chunk has completed. Runs inline when there is a single chunk.
  void ParallelFor(int64_t n, int64_t grain, ChunkFn fn);

  // Calls fn(part) for part in [0, num_threads()), normally one part per
  // thread (a late thread's part is run by whoever is free).
  void Run(absl::FunctionRef<void(int part)> fn);

 private:
  void WorkerLoop(int thread_index);
  // Waits until `generation_` differs from `seen`; returns the new value.
  uint32_t AwaitRegion(uint32_t seen);
  // Claims and runs chunks of the current region until none is left.
  void Drain(int thread_index);

  const int num_threads_;
  std::vector<std::thread> workers_;

  // The current region; written by the dispatcher before it publishes the
  // region in `claim_` (release), read by a thread only after it claimed a
  // chunk of that region (acquire), i.e. while the region is live.
  const ChunkFn* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  uint32_t region_ = 0;  // dispatcher-side region counter

  // region id (32 bits) | chunk count (16 bits) | next chunk (16 bits).
  // One word, so a stale claim attempt on an old region always fails.
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<int64_t> done_{0};         // chunks completed
  alignas(64) std::atomic<uint32_t> generation_{0};  // wakes the workers
  alignas(64) std::atomic<int> sleepers_{0};  // workers blocked in wait()
  std::atomic<bool> stop_{false};
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_THREAD_POOL_H_
