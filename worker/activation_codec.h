// Activation codecs: how hidden states travel between pipeline stages.
//
// A frame holds `rows` x `cols` floats (row-major) encoded as
//   kF32   rows*cols little-endian IEEE float32            (4 bytes/value)
//   kF16   rows*cols little-endian IEEE binary16           (2 bytes/value)
//   kQ8_0  per row, ceil(cols/32) blocks of 34 bytes:
//            uint16 d (fp16 scale = max|x| / 127), int8 q[32]; x ~= d * q.
//          The last block of a row is zero-padded.
// optionally compressed as one zstd frame (`zstd`, any level >= 1).
//
// The checksum is CRC-32C (worker/crc32c.h) over the 29-byte little-endian
// header   u32 codec | u8 zstd | i64 rows | i64 cols | u64 raw_bytes
// followed by the payload bytes as sent (after compression), so a flipped
// shape field is caught as well as a flipped payload byte.
//
// Decoding validates everything before touching memory: codec, shape limits,
// raw_bytes against the shape, payload size, checksum, and the zstd frame's
// declared content size. Errors: DataLoss for a checksum mismatch,
// InvalidArgument for anything malformed. Thread-safe (zstd contexts are
// per thread).
#ifndef TESSERA_WORKER_ACTIVATION_CODEC_H_
#define TESSERA_WORKER_ACTIVATION_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tessera::worker {

enum class Codec : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 2 };

struct CodecOptions {
  Codec codec = Codec::kF32;
  int zstd_level = 0;  // 0 = no compression; 1..19 zstd levels
};

// Shape limits of a frame (both encode and decode refuse larger frames).
inline constexpr int64_t kMaxFrameRows = 1 << 20;
inline constexpr int64_t kMaxFrameCols = 1 << 20;
inline constexpr int64_t kMaxFrameValues = int64_t{1} << 28;
inline constexpr int64_t kQ8BlockValues = 32;
inline constexpr int64_t kQ8BlockBytes = 34;

struct EncodedActivations {
  Codec codec = Codec::kF32;
  bool zstd = false;
  int64_t rows = 0;
  int64_t cols = 0;
  uint64_t raw_bytes = 0;  // encoded size before compression
  uint32_t crc32c = 0;
  std::string data;        // payload as sent
};

// Parses "f32", "f16", "q8_0" (InvalidArgument otherwise) and back.
absl::StatusOr<Codec> ParseCodec(absl::string_view name);
const char* CodecName(Codec codec);

// Bytes of the uncompressed payload for a shape (no overflow: the shape must
// be within the limits above).
uint64_t RawPayloadBytes(Codec codec, int64_t rows, int64_t cols);

// Encodes `values` (rows x cols). InvalidArgument when values.size() !=
// rows*cols, the shape is out of limits, or the zstd level is invalid.
absl::StatusOr<EncodedActivations> EncodeActivations(
    absl::Span<const float> values, int64_t rows, int64_t cols,
    const CodecOptions& options);

// Recomputes the checksum of a frame (what EncodeActivations stores).
uint32_t FrameChecksum(const EncodedActivations& frame);

// Validates and decodes a frame into rows*cols floats. `expected_cols` (if
// > 0) must equal frame.cols. See the file comment for the errors.
absl::StatusOr<std::vector<float>> DecodeActivations(
    const EncodedActivations& frame, int64_t expected_cols = 0);

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_ACTIVATION_CODEC_H_
