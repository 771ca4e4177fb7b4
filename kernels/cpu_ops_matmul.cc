#include "kernels/cpu_ops_matmul.h"

#include <algorithm>

#include "common/logging.h"
#include "kernels/q4_tiles.h"

namespace tessera::kernels {
namespace {

// Batches with at least this many rows use the repacking gemm kernel; below
// it, one streaming pass per kMaxMatVecRows rows reads the weights fewer
// times than repacking costs.
constexpr int64_t kGemmMinRows = 8;
// Guided scheduling (see PlanItems): an item takes 1/(share x threads) of
// the remaining rows, but at least `min_rows` (a multiple of the gemm panel
// height). Decode items are longer: a decode kernel reads its item as a few
// sequential weight streams, each restarting the memory pipeline, and on the
// development machine shares of 1/threads with 64-row items moved 3-5% more
// bytes per second than 1/(2 x threads) with 32-row items when the memory
// bus was free. Prefill is compute bound and balances better with more,
// smaller items.
struct GuidedSchedule {
  int64_t share;
  int64_t min_rows;
};
constexpr GuidedSchedule kDecodeSchedule = {1, 64};
constexpr GuidedSchedule kGemmSchedule = {2, 32};

bool IsQuantized(GgmlType format) {
  return format == GgmlType::kQ8_0 || format == GgmlType::kQ4_0;
}

// Rows [n0, n0 + rows) of `q`.
QuantizedRows SliceRows(const QuantizedRows& q, int64_t n0, int64_t rows) {
  QuantizedRows s = q;
  s.rows = rows;
  s.qs += n0 * q.cols;
  s.scales += n0 * q.blocks;
  s.block_corr += n0 * q.blocks;
  s.quad_corr += n0 * (q.cols / 4);
  if (q.stream != nullptr) s.stream += n0 * q.supers * kQ4StreamBytes;
  if (q.tiles != nullptr) s.tiles += n0 * Q4Tiles(q.blocks) * kQ4TileActBytes;
  return s;
}

}  // namespace

MatMulRunner::MatMulRunner(const CpuKernels& kernels, ThreadPool& pool)
    : kernels_(kernels), pool_(pool), panels_(pool.num_threads()) {}

int64_t MatMulRunner::scratch_bytes() const {
  int64_t total = 0;
  for (const AlignedBuffer& b : panels_) total += b.capacity();
  return total;
}

// Guided schedule: each item takes a share of the rows still unplanned, so
// items start long (long sequential weight streams) and shrink towards the
// end of the region, where they balance the threads' finishing times.
void MatMulRunner::PlanItems(absl::Span<const MatMulJob> jobs, bool gemm) {
  int64_t remaining = 0;
  for (const MatMulJob& job : jobs) remaining += job.w.rows;
  const GuidedSchedule schedule = gemm ? kGemmSchedule : kDecodeSchedule;
  const int64_t share = schedule.share * pool_.num_threads();
  items_.clear();
  for (size_t j = 0; j < jobs.size(); ++j) {
    for (int64_t r = 0; r < jobs[j].w.rows;) {
      int64_t chunk = std::max(schedule.min_rows, remaining / share);
      chunk = (chunk + kGemmPanelRows - 1) / kGemmPanelRows * kGemmPanelRows;
      const int64_t end = std::min(jobs[j].w.rows, r + chunk);
      items_.push_back({static_cast<int>(j), r, end});
      remaining -= end - r;
      r = end;
    }
  }
}

void MatMulRunner::RunItem(const MatMulJob& job, const WorkItem& item,
                           const float* x, int64_t n, int64_t x_stride,
                           bool gemm, int thread) {
  const MatrixRef& w = job.w;
  if (!IsQuantized(w.format)) {
    kernels_.float_matmul(w, item.r0, item.r1, x, n, x_stride, job.y,
                          job.y_stride, job.accumulate);
    return;
  }
  const QuantizedRows& q =
      w.format == GgmlType::kQ4_0 ? q4_0_rows_.rows() : q8_0_rows_.rows();
  if (gemm) {
    uint8_t* panel =
        panels_[thread].Reserve(kernels_.gemm_scratch_bytes(w.cols));
    kernels_.quant_gemm(w, item.r0, item.r1, q, job.y, job.y_stride,
                        job.accumulate, panel);
    return;
  }
  for (int64_t n0 = 0; n0 < n; n0 += kMaxMatVecRows) {
    const int64_t rows = std::min(kMaxMatVecRows, n - n0);
    kernels_.quant_matvec(w, item.r0, item.r1, SliceRows(q, n0, rows),
                          job.y + n0 * job.y_stride, job.y_stride,
                          job.accumulate);
  }
}

void MatMulRunner::Run(absl::Span<const MatMulJob> jobs, const float* x,
                       int64_t n, int64_t x_stride) {
  if (jobs.empty() || n <= 0) return;
  const int64_t cols = jobs[0].w.cols;
  bool need_q8 = false, need_q4 = false, q4_tiled = false;
  for (const MatMulJob& job : jobs) {
    CHECK(job.w.cols == cols)
        << "jobs of one MatMulRunner::Run share the input";
    need_q8 |= job.w.format == GgmlType::kQ8_0;
    need_q4 |= job.w.format == GgmlType::kQ4_0;
    q4_tiled |= job.w.format == GgmlType::kQ4_0 && job.w.q4_tiled;
  }
  const bool gemm = kernels_.quant_gemm != nullptr && n >= kGemmMinRows;
  if (need_q8) {
    q8_0_rows_.Quantize(x, n, cols, x_stride, kernels_.q8_0_offset,
                        /*stream=*/false, &pool_);
  }
  if (need_q4) {
    q4_0_rows_.Quantize(x, n, cols, x_stride, kernels_.q4_0_offset,
                        kernels_.q4_0_stream && !gemm && !q4_tiled, &pool_,
                        /*tiles=*/q4_tiled && !gemm);
  }
  PlanItems(jobs, gemm);
  pool_.ParallelFor(static_cast<int64_t>(items_.size()), 1,
                    [&](int64_t begin, int64_t end, int thread) {
                      for (int64_t i = begin; i < end; ++i) {
                        const WorkItem& item = items_[i];
                        RunItem(jobs[item.job], item, x, n, x_stride, gemm,
                                thread);
                      }
                    });
}

}  // namespace tessera::kernels
