#include "worker/activation_codec.h"

#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "model/ggml_types.h"
#include "worker/crc32c.h"

namespace tessera::worker {
namespace {

absl::Status CheckShape(int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0 || rows > kMaxFrameRows || cols > kMaxFrameCols ||
      rows * cols > kMaxFrameValues) {
    return absl::InvalidArgumentError(absl::StrCat(
        "activation frame shape ", rows, "x", cols, " is out of limits"));
  }
  return absl::OkStatus();
}

void PutLe(uint8_t*& p, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) *p++ = static_cast<uint8_t>(value >> (8 * i));
}

void EncodeF16(absl::Span<const float> values, uint8_t* out) {
  for (float v : values) {
    const uint16_t h = model::FloatToHalf(v);
    *out++ = static_cast<uint8_t>(h);
    *out++ = static_cast<uint8_t>(h >> 8);
  }
}

void EncodeQ8Row(const float* x, int64_t cols, uint8_t* out) {
  for (int64_t b = 0; b < cols; b += kQ8BlockValues, out += kQ8BlockBytes) {
    const int64_t n = std::min(kQ8BlockValues, cols - b);
    float amax = 0.0f;
    for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[b + i]));
    const float d = amax / 127.0f;
    const uint16_t dh = model::FloatToHalf(d);
    out[0] = static_cast<uint8_t>(dh);
    out[1] = static_cast<uint8_t>(dh >> 8);
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    auto* q = reinterpret_cast<int8_t*>(out + 2);
    for (int64_t i = 0; i < kQ8BlockValues; ++i) {
      const float scaled = i < n ? std::nearbyint(x[b + i] * inv) : 0.0f;
      q[i] = static_cast<int8_t>(std::clamp(scaled, -127.0f, 127.0f));
    }
  }
}

std::string EncodeRaw(absl::Span<const float> values, int64_t rows,
                      int64_t cols, Codec codec) {
  std::string raw(RawPayloadBytes(codec, rows, cols), '\0');
  auto* out = reinterpret_cast<uint8_t*>(raw.data());
  switch (codec) {
    case Codec::kF32:
      std::memcpy(out, values.data(), raw.size());  // little-endian host
      break;
    case Codec::kF16:
      EncodeF16(values, out);
      break;
    case Codec::kQ8_0: {
      const uint64_t row_bytes = raw.size() / rows;
      for (int64_t r = 0; r < rows; ++r) {
        EncodeQ8Row(values.data() + r * cols, cols, out + r * row_bytes);
      }
      break;
    }
  }
  return raw;
}

void DecodeRaw(const uint8_t* in, Codec codec, int64_t rows, int64_t cols,
               float* out) {
  const int64_t n = rows * cols;
  if (codec == Codec::kF32) {
    std::memcpy(out, in, n * sizeof(float));
  } else if (codec == Codec::kF16) {
    for (int64_t i = 0; i < n; ++i) {
      out[i] = model::HalfToFloat(static_cast<uint16_t>(in[2 * i]) |
                                  static_cast<uint16_t>(in[2 * i + 1]) << 8);
    }
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const uint8_t* block = in + (c / kQ8BlockValues) * kQ8BlockBytes;
        const float d = model::HalfToFloat(static_cast<uint16_t>(block[0]) |
                                           static_cast<uint16_t>(block[1]) << 8);
        const auto q = static_cast<int8_t>(block[2 + c % kQ8BlockValues]);
        out[r * cols + c] = d * static_cast<float>(q);
      }
      in += RawPayloadBytes(Codec::kQ8_0, 1, cols);
    }
  }
}

absl::StatusOr<std::string> Compress(const std::string& raw, int level) {
  thread_local ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  const size_t n = ZSTD_compressCCtx(cctx, out.data(), out.size(), raw.data(),
                                     raw.size(), level);
  if (ZSTD_isError(n)) {
    return absl::InternalError(
        absl::StrCat("zstd compression failed: ", ZSTD_getErrorName(n)));
  }
  out.resize(n);
  return out;
}

absl::Status Decompress(const std::string& data, uint64_t raw_bytes,
                        std::string& raw) {
  const unsigned long long declared =
      ZSTD_getFrameContentSize(data.data(), data.size());
  if (declared != raw_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "zstd frame declares ", declared, " bytes, header says ", raw_bytes));
  }
  thread_local ZSTD_DCtx* dctx = ZSTD_createDCtx();
  raw.resize(raw_bytes);
  const size_t n =
      ZSTD_decompressDCtx(dctx, raw.data(), raw.size(), data.data(), data.size());
  if (ZSTD_isError(n) || n != raw_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed zstd payload: ",
        ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short output"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Codec> ParseCodec(absl::string_view name) {
  if (name == "f32") return Codec::kF32;
  if (name == "f16") return Codec::kF16;
  if (name == "q8_0") return Codec::kQ8_0;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown activation codec '", name, "' (f32, f16, q8_0)"));
}

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kF32: return "f32";
    case Codec::kF16: return "f16";
    case Codec::kQ8_0: return "q8_0";
  }
  return "unknown";
}

uint64_t RawPayloadBytes(Codec codec, int64_t rows, int64_t cols) {
  switch (codec) {
    case Codec::kF32: return static_cast<uint64_t>(rows * cols) * 4;
    case Codec::kF16: return static_cast<uint64_t>(rows * cols) * 2;
    case Codec::kQ8_0: {
      const int64_t blocks = (cols + kQ8BlockValues - 1) / kQ8BlockValues;
      return static_cast<uint64_t>(rows * blocks) * kQ8BlockBytes;
    }
  }
  return 0;
}

uint32_t FrameChecksum(const EncodedActivations& frame) {
  uint8_t header[29];
  uint8_t* p = header;
  PutLe(p, static_cast<uint32_t>(frame.codec), 4);
  PutLe(p, frame.zstd ? 1 : 0, 1);
  PutLe(p, static_cast<uint64_t>(frame.rows), 8);
  PutLe(p, static_cast<uint64_t>(frame.cols), 8);
  PutLe(p, frame.raw_bytes, 8);
  const uint32_t crc = Crc32c(header, sizeof(header));
  return Crc32cExtend(crc, frame.data.data(), frame.data.size());
}

absl::StatusOr<EncodedActivations> EncodeActivations(
    absl::Span<const float> values, int64_t rows, int64_t cols,
    const CodecOptions& options) {
  if (absl::Status s = CheckShape(rows, cols); !s.ok()) return s;
  if (static_cast<int64_t>(values.size()) != rows * cols) {
    return absl::InvalidArgumentError(absl::StrCat(
        "encode: ", values.size(), " values for shape ", rows, "x", cols));
  }
  if (options.zstd_level < 0 || options.zstd_level > ZSTD_maxCLevel()) {
    return absl::InvalidArgumentError(
        absl::StrCat("zstd level ", options.zstd_level, " is out of range"));
  }
  EncodedActivations frame;
  frame.codec = options.codec;
  frame.rows = rows;
  frame.cols = cols;
  frame.data = EncodeRaw(values, rows, cols, options.codec);
  frame.raw_bytes = frame.data.size();
  if (options.zstd_level > 0) {
    frame.zstd = true;
    absl::StatusOr<std::string> packed = Compress(frame.data, options.zstd_level);
    if (!packed.ok()) return packed.status();
    frame.data = *std::move(packed);
  }
  frame.crc32c = FrameChecksum(frame);
  return frame;
}

absl::StatusOr<std::vector<float>> DecodeActivations(
    const EncodedActivations& frame, int64_t expected_cols) {
  if (frame.codec != Codec::kF32 && frame.codec != Codec::kF16 &&
      frame.codec != Codec::kQ8_0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown activation codec ", static_cast<uint32_t>(frame.codec)));
  }
  if (absl::Status s = CheckShape(frame.rows, frame.cols); !s.ok()) return s;
  if (expected_cols > 0 && frame.cols != expected_cols) {
    return absl::InvalidArgumentError(absl::StrCat(
        "activation frame has ", frame.cols, " columns, expected ",
        expected_cols));
  }
  const uint64_t raw_bytes = RawPayloadBytes(frame.codec, frame.rows, frame.cols);
  if (frame.raw_bytes != raw_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "activation frame says ", frame.raw_bytes, " raw bytes, its shape ",
        frame.rows, "x", frame.cols, " needs ", raw_bytes));
  }
  if (!frame.zstd && frame.data.size() != raw_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "activation payload has ", frame.data.size(), " bytes, expected ",
        raw_bytes));
  }
  if (FrameChecksum(frame) != frame.crc32c) {
    return absl::DataLossError("activation frame checksum mismatch");
  }
  std::string decompressed;
  const std::string* raw = &frame.data;
  if (frame.zstd) {
    if (absl::Status s = Decompress(frame.data, raw_bytes, decompressed);
        !s.ok()) {
      return s;
    }
    raw = &decompressed;
  }
  std::vector<float> values(frame.rows * frame.cols);
  DecodeRaw(reinterpret_cast<const uint8_t*>(raw->data()), frame.codec,
            frame.rows, frame.cols, values.data());
  return values;
}

}  // namespace tessera::worker
