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
// Gemm items (see PlanGemmItems): an item takes 1/(2 x threads) of the
// remaining rows, but at least 32 (a multiple of the gemm panel height):
// prefill is compute bound and balances well with many smaller items.
constexpr int64_t kGemmItemShare = 2;
constexpr int64_t kGemmMinItemRows = 32;
// Decode units (see OwnedRanges): each thread streams its own share of the
// rows in long runs, and the threads rebalance in units of this many rows
// at the end of the region.
constexpr int64_t kDecodeUnitRows = 16;

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
    : kernels_(kernels),
      pool_(pool),
      panels_(pool.num_threads()),
      decode_ranges_(pool.num_threads()) {}

int64_t MatMulRunner::scratch_bytes() const {
  int64_t total = 0;
  for (const AlignedBuffer& b : panels_) total += b.capacity();
  return total;
}

// Guided schedule: each item takes a share of the rows still unplanned, so
// items start long and shrink towards the end of the region, where they
// balance the threads' finishing times.
void MatMulRunner::PlanGemmItems(absl::Span<const MatMulJob> jobs) {
  int64_t remaining = 0;
  for (const MatMulJob& job : jobs) remaining += job.w.rows;
  const int64_t share = kGemmItemShare * pool_.num_threads();
  items_.clear();
  for (size_t j = 0; j < jobs.size(); ++j) {
    for (int64_t r = 0; r < jobs[j].w.rows;) {
      int64_t chunk = std::max(kGemmMinItemRows, remaining / share);
      chunk = (chunk + kGemmPanelRows - 1) / kGemmPanelRows * kGemmPanelRows;
      const int64_t end = std::min(jobs[j].w.rows, r + chunk);
      items_.push_back({static_cast<int>(j), r, end});
      remaining -= end - r;
      r = end;
    }
  }
}

void MatMulRunner::PlanDecodeUnits(absl::Span<const MatMulJob> jobs) {
  items_.clear();
  for (size_t j = 0; j < jobs.size(); ++j) {
    for (int64_t r = 0; r < jobs[j].w.rows; r += kDecodeUnitRows) {
      items_.push_back({static_cast<int>(j), r,
                        std::min(jobs[j].w.rows, r + kDecodeUnitRows)});
    }
  }
  decode_ranges_.Reset(static_cast<int64_t>(items_.size()));
}

void MatMulRunner::RunUnits(absl::Span<const MatMulJob> jobs, int64_t begin,
                            int64_t end, const float* x, int64_t n,
                            int64_t x_stride, int thread) {
  for (int64_t u = begin; u < end;) {
    WorkItem run = items_[u];
    for (++u; u < end && items_[u].job == run.job && items_[u].r0 == run.r1;
         ++u) {
      run.r1 = items_[u].r1;
    }
    RunItem(jobs[run.job], run, x, n, x_stride, /*gemm=*/false, thread);
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
  if (gemm) {
    PlanGemmItems(jobs);
    pool_.ParallelFor(static_cast<int64_t>(items_.size()), 1,
                      [&](int64_t begin, int64_t end, int thread) {
                        for (int64_t i = begin; i < end; ++i) {
                          const WorkItem& item = items_[i];
                          RunItem(jobs[item.job], item, x, n, x_stride,
                                  /*gemm=*/true, thread);
                        }
                      });
    return;
  }
  PlanDecodeUnits(jobs);
  // One chunk per range: whichever thread runs chunk `home` works through
  // that range first, then helps with the others.
  pool_.ParallelFor(decode_ranges_.parts(), 1,
                    [&](int64_t home, int64_t, int thread) {
                      int64_t begin, end;
                      while (decode_ranges_.Claim(static_cast<int>(home),
                                                  &begin, &end)) {
                        RunUnits(jobs, begin, end, x, n, x_stride, thread);
                      }
                    });
}

}  // namespace tessera::kernels
