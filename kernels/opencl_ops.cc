#include "kernels/opencl_ops.h"

#include <algorithm>
#include <cmath>

#include "common/status_macros.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

size_t RoundUp(int64_t value, size_t multiple) {
  const size_t v = static_cast<size_t>(value);
  return (v + multiple - 1) / multiple * multiple;
}

int32_t I32(int64_t v) { return static_cast<int32_t>(v); }

}  // namespace

absl::StatusOr<OpenClOps> OpenClOps::Create(OpenClKernels* kernels) {
  OpenClOps ops(kernels);
  struct Entry {
    FormatKernels* target;
    const char* suffix;
  };
  const Entry formats[] = {{&ops.f32_, "f32"},
                           {&ops.f16_, "f16"},
                           {&ops.q8_0_, "q8_0"},
                           {&ops.q4_0_, "q4_0"}};
  for (const Entry& e : formats) {
    TESSERA_ASSIGN_OR_RETURN(e.target->matvec,
                             kernels->Get(absl::StrCat("matvec_", e.suffix)));
    TESSERA_ASSIGN_OR_RETURN(e.target->matmul,
                             kernels->Get(absl::StrCat("matmul_", e.suffix)));
    TESSERA_ASSIGN_OR_RETURN(e.target->get_rows,
                             kernels->Get(absl::StrCat("get_rows_", e.suffix)));
  }
  TESSERA_ASSIGN_OR_RETURN(ops.rmsnorm_, kernels->Get("rmsnorm"));
  TESSERA_ASSIGN_OR_RETURN(ops.rmsnorm_gather_, kernels->Get("rmsnorm_gather"));
  TESSERA_ASSIGN_OR_RETURN(ops.rope_store_, kernels->Get("rope_store"));
  TESSERA_ASSIGN_OR_RETURN(ops.attention_, kernels->Get("attention"));
  TESSERA_ASSIGN_OR_RETURN(ops.silu_mul_, kernels->Get("silu_mul"));
  TESSERA_ASSIGN_OR_RETURN(ops.add_rmsnorm_, kernels->Get("add_rmsnorm"));
  TESSERA_ASSIGN_OR_RETURN(ops.add_rows_, kernels->Get("add_rows"));
  return ops;
}

const OpenClOps::FormatKernels* OpenClOps::ForFormat(GgmlType format) const {
  switch (format) {
    case GgmlType::kF32:
      return &f32_;
    case GgmlType::kF16:
      return &f16_;
    case GgmlType::kQ8_0:
      return &q8_0_;
    case GgmlType::kQ4_0:
      return &q4_0_;
    default:
      return nullptr;
  }
}

size_t OpenClOps::InputScratchFloats(const DeviceMatrix& w,
                                     int64_t n_tokens) const {
  // Q4_0 decode keeps x's blocks in local memory: their sums, or on one-lane
  // builds x quantised to int8, 16 floats per block in groups of 4 (see
  // matvec_q4_0.cl).
  if (w.format != GgmlType::kQ4_0 || n_tokens != 1) return 0;
  const size_t blocks = static_cast<size_t>(w.cols / 32);
  return kernels_->single_lane() ? (blocks + 3) / 4 * 4 * 16 : blocks;
}

size_t OpenClOps::RowsPerGroup(const KernelInfo& k, const DeviceMatrix& w,
                               int64_t n_tokens, int64_t rows) const {
  if (w.format != GgmlType::kQ4_0 || n_tokens != 1 ||
      !kernels_->single_lane()) {
    return k.rows_per_group;
  }
  // One-lane Q4_0 decode quantises x once per work-group, which costs about
  // as much as 25 rows of the matrix (matvec_q4_0.cl). Two groups per
  // compute unit amortise that and still let a unit that finishes early take
  // over (PoCL, 2 cores, Q4_0, x86-64: 2048x2048 in 46-64 us against 78-97
  // in 64-row groups; 32000x2048 in 570-690 us against 990-1070). Groups
  // stay within the work-group size and the local memory (one reduction
  // slot per row besides x).
  const OpenClDeviceInfo& device = kernels_->context()->device();
  const size_t groups =
      2 * static_cast<size_t>(std::max(1, device.compute_units));
  size_t max_rows = k.max_rows_per_group;
  const size_t input_bytes = InputScratchFloats(w, n_tokens) * sizeof(float);
  if (device.local_mem_bytes > 0) {
    const size_t local = static_cast<size_t>(device.local_mem_bytes);
    const size_t fit =
        local > input_bytes ? (local - input_bytes) / sizeof(float) : 0;
    max_rows = std::min(max_rows, fit / 16 * 16);
  }
  const size_t floor_rows = std::min(k.rows_per_group, max_rows);
  const size_t wanted = RoundUp(RoundUp(rows, groups) / groups, 16);
  return std::max<size_t>(1, std::clamp(wanted, floor_rows, max_rows));
}

absl::StatusOr<LocalBytes> OpenClOps::MatMulScratch(const DeviceMatrix& w,
                                                    const KernelInfo& k,
                                                    size_t rows_per_group,
                                                    int64_t n_tokens) const {
  // Lane reduction slots, then x's blocks (InputScratchFloats).
  const size_t floats =
      k.lanes * rows_per_group + InputScratchFloats(w, n_tokens);
  const LocalBytes scratch{floats * sizeof(float)};
  const int64_t local_limit = kernels_->context()->device().local_mem_bytes;
  if (local_limit > 0 && scratch.bytes > static_cast<size_t>(local_limit)) {
    return absl::ResourceExhaustedError(
        absl::StrCat(w.name, ": ", k.name, " needs ", scratch.bytes,
                     " bytes of local memory; the device has ", local_limit));
  }
  return scratch;
}

absl::Status OpenClOps::MatMul(const DeviceMatrix& w, cl_mem x,
                               int64_t x_stride, int64_t n_tokens, cl_mem y,
                               int64_t y_stride) {
  const FormatKernels* fk = ForFormat(w.format);
  if (fk == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(w.name, ": no kernel for ", model::TypeName(w.format)));
  }
  const int tile = n_tokens == 1 ? 1 : kTokenTile;
  const KernelInfo& k = n_tokens == 1 ? *fk->matvec : *fk->matmul;
  const bool quantized =
      w.format == GgmlType::kQ8_0 || w.format == GgmlType::kQ4_0;
  for (const DeviceMatrixChunk& chunk : w.chunks) {
    const size_t group_rows = RowsPerGroup(k, w, n_tokens, chunk.rows);
    TESSERA_ASSIGN_OR_RETURN(const LocalBytes scratch,
                             MatMulScratch(w, k, group_rows, n_tokens));
    if (quantized) {
      TESSERA_RETURN_IF_ERROR(OpenClKernels::SetArgs(
          k, chunk.data.get(), chunk.scales.get(), I32(w.cols), I32(chunk.rows),
          x, I32(x_stride), y, I32(y_stride), I32(chunk.row_begin),
          I32(n_tokens), scratch));
    } else {
      TESSERA_RETURN_IF_ERROR(OpenClKernels::SetArgs(
          k, chunk.data.get(), I32(w.cols), I32(chunk.rows), x, I32(x_stride),
          y, I32(y_stride), I32(chunk.row_begin), I32(n_tokens), scratch));
    }
    const size_t global[3] = {
        k.lanes, RoundUp(chunk.rows, group_rows),
        static_cast<size_t>((n_tokens + tile - 1) / tile)};
    const size_t local[3] = {k.lanes, group_rows, 1};
    TESSERA_RETURN_IF_ERROR(kernels_->Enqueue(k, 3, global, local));
  }
  return absl::OkStatus();
}

absl::Status OpenClOps::RmsNorm(cl_mem x, cl_mem weight, cl_mem out,
                                int64_t dim, float eps, int64_t n_rows) {
  const KernelInfo& k = *rmsnorm_;
  TESSERA_RETURN_IF_ERROR(OpenClKernels::SetArgs(
      k, x, weight, out, I32(dim), eps, LocalBytes{k.lanes * sizeof(float)}));
  const size_t global[2] = {k.lanes, static_cast<size_t>(n_rows)};
  const size_t local[2] = {k.lanes, 1};
  return kernels_->Enqueue(k, 2, global, local);
}

absl::Status OpenClOps::AddRmsNorm(cl_mem x, cl_mem delta, cl_mem weight,
                                   cl_mem out, int64_t dim, float eps,
                                   int64_t n_rows) {
  const KernelInfo& k = *add_rmsnorm_;
  TESSERA_RETURN_IF_ERROR(
      OpenClKernels::SetArgs(k, x, delta, weight, out, I32(dim), eps,
                             LocalBytes{k.lanes * sizeof(float)}));
  const size_t global[2] = {k.lanes, static_cast<size_t>(n_rows)};
  const size_t local[2] = {k.lanes, 1};
  return kernels_->Enqueue(k, 2, global, local);
}

absl::Status OpenClOps::Add(cl_mem x, cl_mem delta, int64_t n) {
  const KernelInfo& k = *add_rows_;
  TESSERA_RETURN_IF_ERROR(OpenClKernels::SetArgs(k, x, delta, I32(n)));
  const size_t group = std::min(k.items, RoundUp(n, 1));
  const size_t global[1] = {RoundUp(n, group)};
  const size_t local[1] = {group};
  return kernels_->Enqueue(k, 1, global, local);
}

absl::Status OpenClOps::RmsNormGather(cl_mem x, cl_mem rows, cl_mem weight,
                                      cl_mem out, int64_t dim, float eps,
                                      int64_t n_rows) {
  const KernelInfo& k = *rmsnorm_gather_;
  TESSERA_RETURN_IF_ERROR(
      OpenClKernels::SetArgs(k, x, rows, weight, out, I32(dim), eps,
                             LocalBytes{k.lanes * sizeof(float)}));
  const size_t global[2] = {k.lanes, static_cast<size_t>(n_rows)};
  const size_t local[2] = {k.lanes, 1};
  return kernels_->Enqueue(k, 2, global, local);
}

absl::Status OpenClOps::RopeStore(const HeadShape& shape, cl_mem qkv,
                                  int64_t row_begin, int64_t n_rows,
                                  int64_t pos0, cl_mem rope, cl_mem bias,
                                  cl_mem k_cache, cl_mem v_cache) {
  const KernelInfo& k = *rope_store_;
  TESSERA_RETURN_IF_ERROR(OpenClKernels::SetArgs(
      k, qkv, I32(shape.qkv_dim()), I32(row_begin), I32(pos0),
      I32(shape.n_heads), I32(shape.n_kv_heads), I32(shape.head_dim),
      I32(shape.rope_dim), I32(shape.neox ? 1 : 0), rope,
      bias != nullptr ? bias : qkv, I32(bias != nullptr ? 1 : 0), k_cache,
      v_cache));
  const size_t pairs = static_cast<size_t>(shape.head_dim / 2);
  const size_t group = std::min(k.items, RoundUp(pairs, 1));
  const size_t global[3] = {
      RoundUp(pairs, group),
      static_cast<size_t>(shape.n_heads + 2 * shape.n_kv_heads),
      static_cast<size_t>(n_rows)};
  const size_t local[3] = {group, 1, 1};
  return kernels_->Enqueue(k, 3, global, local);
}

absl::Status OpenClOps::Attention(const HeadShape& shape, cl_mem qkv,
                                  int64_t row_begin, int64_t n_rows,
                                  int64_t pos0, cl_mem k_cache, cl_mem v_cache,
                                  cl_mem scores, int64_t scores_stride,
                                  cl_mem out) {
  const KernelInfo& k = *attention_;
  const float scale = 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
  TESSERA_RETURN_IF_ERROR(OpenClKernels::SetArgs(
      k, qkv, I32(shape.qkv_dim()), I32(row_begin), I32(pos0), k_cache, v_cache,
      I32(shape.n_heads), I32(shape.n_kv_heads), I32(shape.head_dim), scale,
      scores, I32(scores_stride), out, I32(shape.dim()),
      LocalBytes{k.lanes * sizeof(float)}));
  const size_t global[3] = {k.lanes, static_cast<size_t>(shape.n_heads),
                            static_cast<size_t>(n_rows)};
  const size_t local[3] = {k.lanes, 1, 1};
  return kernels_->Enqueue(k, 3, global, local);
}

absl::Status OpenClOps::SiluMul(cl_mem gu, cl_mem out, int64_t ffn,
                                int64_t n_rows) {
  const KernelInfo& k = *silu_mul_;
  TESSERA_RETURN_IF_ERROR(OpenClKernels::SetArgs(k, gu, out, I32(ffn)));
  const size_t group = std::min(k.items, RoundUp(ffn, 1));
  const size_t global[2] = {RoundUp(ffn, group), static_cast<size_t>(n_rows)};
  const size_t local[2] = {group, 1};
  return kernels_->Enqueue(k, 2, global, local);
}

absl::Status OpenClOps::GetRows(const DeviceMatrix& table, cl_mem tokens,
                                int64_t n_rows, cl_mem out) {
  const FormatKernels* fk = ForFormat(table.format);
  if (fk == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        table.name, ": no kernel for ", model::TypeName(table.format)));
  }
  const KernelInfo& k = *fk->get_rows;
  const bool quantized =
      table.format == GgmlType::kQ8_0 || table.format == GgmlType::kQ4_0;
  const size_t group = std::min(k.items, RoundUp(table.cols, 1));
  for (const DeviceMatrixChunk& chunk : table.chunks) {
    if (quantized) {
      TESSERA_RETURN_IF_ERROR(OpenClKernels::SetArgs(
          k, chunk.data.get(), chunk.scales.get(), I32(table.cols),
          I32(chunk.row_begin), I32(chunk.rows), tokens, out));
    } else {
      TESSERA_RETURN_IF_ERROR(OpenClKernels::SetArgs(
          k, chunk.data.get(), I32(table.cols), I32(chunk.row_begin),
          I32(chunk.rows), tokens, out));
    }
    const size_t global[2] = {RoundUp(table.cols, group),
                              static_cast<size_t>(n_rows)};
    const size_t local[2] = {group, 1};
    TESSERA_RETURN_IF_ERROR(kernels_->Enqueue(k, 2, global, local));
  }
  return absl::OkStatus();
}

}  // namespace tessera::kernels
