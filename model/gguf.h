// GGUF files: a validating reader over a memory map and a writer.
//
// File layout (all little-endian), versions 2 and 3:
//   uint32 magic "GGUF" | uint32 version | uint64 n_tensors | uint64 n_kv
//   n_kv x { string key | uint32 value_type | value }
//   n_tensors x { string name | uint32 n_dims | uint64 ne[n_dims] |
//                 uint32 ggml_type | uint64 offset }
//   padding to `general.alignment` (default 32) | tensor data
// string = uint64 length + bytes (no terminator). Array value = uint32
// element type + uint64 count + elements (arrays of arrays allowed).
// Tensor offsets are relative to the start of the data section and must be
// multiples of the alignment.
//
// GgufFile is immutable after Open and safe for concurrent readers.
#ifndef TESSERA_MODEL_GGUF_H_
#define TESSERA_MODEL_GGUF_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/mapped_file.h"
#include "model/ggml_types.h"

namespace tessera::model {

// Metadata value types; values are the on-disk ids.
enum class GgufValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5,
  kFloat32 = 6, kBool = 7, kString = 8, kArray = 9, kUint64 = 10,
  kInt64 = 11, kFloat64 = 12,
};

// One metadata value. Scalars are widened (integers to int64/uint64, floats
// to double) but `type` keeps the on-disk type so a writer can round-trip.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint32;
  // Scalar payload (exactly one alternative is meaningful, chosen by type).
  std::variant<uint64_t, int64_t, double, bool, std::string> scalar;
  // For kArray: element type and elements (elements have that type).
  GgufValueType array_type = GgufValueType::kUint8;
  std::vector<GgufValue> array;

  static GgufValue U32(uint32_t v);
  static GgufValue I32(int32_t v);
  static GgufValue U64(uint64_t v);
  static GgufValue F32(float v);
  static GgufValue Bool(bool v);
  static GgufValue String(std::string v);
  static GgufValue StringArray(std::vector<std::string> v);
  static GgufValue F32Array(const std::vector<float>& v);
  static GgufValue I32Array(const std::vector<int32_t>& v);
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<int64_t> dims;   // ne[0] (fastest varying, row length) first
  uint64_t offset = 0;         // within the data section
  int64_t elements = 0;
  int64_t bytes = 0;
  const uint8_t* data = nullptr;  // points into the mapping; validated range
};

class GgufFile {
 public:
  // Opens and fully validates `path` (memory-mapped). Errors:
  //   NotFound: no such file. InvalidArgument: bad magic, unsupported version,
  //   unknown value or tensor type, duplicate key or tensor name, bad
  //   dimensions. OutOfRange / DataLoss: truncated file, counts, lengths or
  //   offsets that overflow or point outside the file.
  //   ResourceExhausted: more than 2^22 metadata values in all (each costs 80+
  //   bytes in memory; real vocabularies need well under 1M).
  // Also rejected (InvalidArgument): empty keys or tensor names, names over
  // 65535 bytes, arrays nested more than 8 deep, bools other than 0/1,
  // general.alignment not an integer power of two in [1, 2^31], tensor
  // offsets not multiples of the alignment.
  // Messages name the file and the offending key/tensor.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(
      const std::string& path);

  // Same validation over a caller-owned buffer (tests, fuzzing).
  // REQUIRES: `bytes` outlives the returned object.
  static absl::StatusOr<std::unique_ptr<GgufFile>> FromBuffer(
      absl::Span<const uint8_t> bytes, std::string name = "<buffer>");

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::string& name() const { return name_; }
  // The raw bytes of the whole file.
  absl::Span<const uint8_t> bytes() const { return bytes_; }

  // Metadata. Find returns nullptr when absent. The typed getters return
  // NotFound when absent and InvalidArgument when the type does not convert
  // (any integer type converts to an integer getter if it fits).
  const GgufValue* Find(absl::string_view key) const;
  const std::map<std::string, GgufValue, std::less<>>& metadata() const {
    return metadata_;
  }
  absl::StatusOr<std::string> GetString(absl::string_view key) const;
  absl::StatusOr<int64_t> GetInt(absl::string_view key) const;
  absl::StatusOr<double> GetFloat(absl::string_view key) const;
  absl::StatusOr<bool> GetBool(absl::string_view key) const;
  absl::StatusOr<std::vector<std::string>> GetStringArray(
      absl::string_view key) const;
  absl::StatusOr<std::vector<float>> GetFloatArray(absl::string_view key) const;
  absl::StatusOr<std::vector<int64_t>> GetIntArray(absl::string_view key) const;

  // Tensors in file order; FindTensor returns nullptr when absent.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(absl::string_view name) const;

 private:
  GgufFile() = default;
  absl::Status Parse();

  std::string name_;
  std::unique_ptr<MappedFile> mapping_;  // null for FromBuffer
  absl::Span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, GgufValue, std::less<>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Builds a GGUF v3 file. Not thread-safe.
class GgufWriter {
 public:
  GgufWriter() = default;

  // Sets (or replaces) a metadata key. Keys are written in insertion order.
  void SetValue(absl::string_view key, GgufValue value);
  // Copies every metadata key of `file` whose name starts with `prefix`.
  void CopyMetadata(const GgufFile& file, absl::string_view prefix);

  // Adds a tensor; `data` must hold exactly RowBytes(type, dims[0]) *
  // prod(dims[1:]) bytes. InvalidArgument on a size mismatch, duplicate name,
  // rank outside 1..4 or a row that does not fit the type's block size.
  absl::Status AddTensor(absl::string_view name, GgmlType type,
                         std::vector<int64_t> dims, std::string data);

  // The whole file as bytes / written atomically to `path`.
  absl::StatusOr<std::string> Serialize() const;
  absl::Status WriteToFile(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> dims;
    std::string data;
  };
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace tessera::model

#endif  // TESSERA_MODEL_GGUF_H_
