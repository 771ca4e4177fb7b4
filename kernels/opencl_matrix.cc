#include "kernels/opencl_matrix.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

// Bytes of host staging per upload step: bounds the host memory an upload
// needs, whatever the matrix size.
constexpr int64_t kStagingBytes = 8 << 20;

bool Quantized(GgmlType format) {
  return format == GgmlType::kQ8_0 || format == GgmlType::kQ4_0;
}

int64_t DataRowBytes(GgmlType format, int64_t cols) {
  switch (format) {
    case GgmlType::kF32:
      return cols * 4;
    case GgmlType::kF16:
      return cols * 2;
    case GgmlType::kQ8_0:
      return cols;
    default:
      return cols / 2;  // Q4_0
  }
}

int64_t ScaleRowBytes(GgmlType format, int64_t cols) {
  return Quantized(format) ? cols / 32 * 2 : 0;
}

// Splits one row of GGUF blocks (fp16 d, then the quants) into quants and
// scales; float rows are copied as they are.
void SplitRow(GgmlType format, const uint8_t* row, int64_t cols, uint8_t* data,
              uint8_t* scales) {
  if (!Quantized(format)) {
    std::memcpy(data, row, DataRowBytes(format, cols));
    return;
  }
  const int64_t quant_bytes = format == GgmlType::kQ8_0 ? 32 : 16;
  const int64_t block_bytes = quant_bytes + 2;
  for (int64_t b = 0; b < cols / 32; ++b) {
    const uint8_t* block = row + b * block_bytes;
    std::memcpy(scales + 2 * b, block, 2);
    std::memcpy(data + b * quant_bytes, block + 2, quant_bytes);
  }
}

absl::Status ValidateParts(const std::string& name,
                           absl::Span<const ExecMatrix* const> parts) {
  if (parts.empty()) return absl::InvalidArgumentError(name + ": no tensors");
  const ExecMatrix& first = *parts[0];
  if (!IsExecutionFormat(first.format) ||
      !model::RowFits(first.format, first.cols)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": ", model::TypeName(first.format), " rows of ",
                     first.cols, " values are not executable"));
  }
  for (const ExecMatrix* part : parts) {
    absl::StatusOr<int64_t> row_bytes =
        model::RowBytes(part->format, part->cols);
    if (part->format != first.format || part->cols != first.cols ||
        part->rows < 1 || part->data == nullptr || !row_bytes.ok() ||
        *row_bytes != part->row_bytes ||
        part->row_bytes * part->rows != part->bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": ", part->name, " (", part->rows, " x ", part->cols, " ",
          model::TypeName(part->format), ") does not stack with ", first.name,
          " (", first.cols, " wide ", model::TypeName(first.format), ")"));
    }
  }
  return absl::OkStatus();
}

// Fills chunk rows [chunk.row_begin, +chunk.rows) from the parts.
absl::Status FillChunk(OpenClContext& context,
                       absl::Span<const ExecMatrix* const> parts,
                       DeviceMatrixChunk& chunk) {
  const GgmlType format = parts[0]->format;
  const int64_t cols = parts[0]->cols;
  const int64_t data_row = DataRowBytes(format, cols);
  const int64_t scale_row = ScaleRowBytes(format, cols);
  const int64_t step =
      std::min(chunk.rows, std::max<int64_t>(1, kStagingBytes / data_row));
  std::vector<uint8_t> data(step * data_row);
  std::vector<uint8_t> scales(step * scale_row);
  for (int64_t done = 0; done < chunk.rows; done += step) {
    const int64_t n = std::min(step, chunk.rows - done);
    for (int64_t i = 0; i < n; ++i) {
      int64_t row = chunk.row_begin + done + i;
      size_t p = 0;
      while (row >= parts[p]->rows) row -= parts[p++]->rows;
      SplitRow(format, parts[p]->data + row * parts[p]->row_bytes, cols,
               data.data() + i * data_row, scales.data() + i * scale_row);
    }
    TESSERA_RETURN_IF_ERROR(context.Write(chunk.data.get(), done * data_row,
                                          n * data_row, data.data(), true));
    if (scale_row > 0) {
      TESSERA_RETURN_IF_ERROR(context.Write(chunk.scales.get(),
                                            done * scale_row, n * scale_row,
                                            scales.data(), true));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int64_t DeviceRowBytes(GgmlType format, int64_t cols) {
  return DataRowBytes(format, cols) + ScaleRowBytes(format, cols);
}

absl::StatusOr<DeviceMatrix> UploadMatrix(
    OpenClContext& context, const std::string& name,
    absl::Span<const ExecMatrix* const> parts) {
  TESSERA_RETURN_IF_ERROR(ValidateParts(name, parts));
  DeviceMatrix matrix;
  matrix.name = name;
  matrix.format = parts[0]->format;
  matrix.cols = parts[0]->cols;
  for (const ExecMatrix* part : parts) matrix.rows += part->rows;
  const int64_t data_row = DataRowBytes(matrix.format, matrix.cols);
  const int64_t scale_row = ScaleRowBytes(matrix.format, matrix.cols);
  const int64_t rows_per_chunk = context.max_buffer_bytes() / data_row;
  if (rows_per_chunk < 1) {
    return absl::ResourceExhaustedError(
        absl::StrCat(name, ": one row (", data_row,
                     " bytes) exceeds the device's largest "
                     "buffer (",
                     context.max_buffer_bytes(), " bytes)"));
  }
  for (int64_t begin = 0; begin < matrix.rows; begin += rows_per_chunk) {
    DeviceMatrixChunk chunk;
    chunk.row_begin = begin;
    chunk.rows = std::min(rows_per_chunk, matrix.rows - begin);
    TESSERA_ASSIGN_OR_RETURN(
        chunk.data,
        context.CreateBuffer(chunk.rows * data_row, CL_MEM_READ_ONLY));
    if (scale_row > 0) {
      TESSERA_ASSIGN_OR_RETURN(
          chunk.scales,
          context.CreateBuffer(chunk.rows * scale_row, CL_MEM_READ_ONLY));
    }
    TESSERA_RETURN_IF_ERROR_CTX(FillChunk(context, parts, chunk), name);
    matrix.bytes += chunk.rows * (data_row + scale_row);
    matrix.chunks.push_back(std::move(chunk));
  }
  return matrix;
}

absl::StatusOr<DeviceVector> UploadFloats(
    OpenClContext& context, absl::Span<const std::vector<float>* const> parts) {
  std::vector<float> values;
  for (const std::vector<float>* part : parts) {
    values.insert(values.end(), part->begin(), part->end());
  }
  DeviceVector vector;
  if (values.empty()) return vector;
  vector.elements = static_cast<int64_t>(values.size());
  vector.bytes = vector.elements * static_cast<int64_t>(sizeof(float));
  TESSERA_ASSIGN_OR_RETURN(
      vector.data, context.CreateBuffer(vector.bytes, CL_MEM_READ_ONLY));
  TESSERA_RETURN_IF_ERROR(
      context.Write(vector.data.get(), 0, vector.bytes, values.data(), true));
  return vector;
}

}  // namespace tessera::kernels
