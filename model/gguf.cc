// GgufFile: parsing and validation. Every length, count and offset read from
// the file is checked against the bytes that remain before it is used, so a
// malformed or hostile file yields a Status, never an out-of-bounds read or a
// huge allocation.
#include "model/gguf.h"

#include <bit>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/gguf_internal.h"

namespace tessera::model {
namespace {

using internal::FixedValueSize;
using internal::IsKnownValueType;

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian
constexpr int kMaxArrayDepth = 8;
// Keys and tensor names longer than this are treated as corruption.
constexpr uint64_t kMaxNameBytes = 65535;
// Each metadata value costs ~80 bytes in memory; this caps what any file can
// make us allocate (~350 MB) while leaving room for 256K-token vocabularies.
constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 22;
// Smallest possible encodings, used to bound counts by the remaining bytes:
// key/value = length 8 + 1 key byte + type 4 + 1 value byte; tensor info =
// length 8 + 1 name byte + n_dims 4 + one dim 8 + type 4 + offset 8; array
// element of type array = type 4 + count 8.
constexpr uint64_t kMinKeyValueBytes = 14;
constexpr uint64_t kMinTensorInfoBytes = 33;
constexpr uint64_t kMinArrayBytes = 12;
constexpr int kMaxDims = 4;

using Metadata = std::map<std::string, GgufValue, std::less<>>;

// A bounds-checked little-endian reader over the file bytes.
class Cursor {
 public:
  explicit Cursor(absl::Span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  // OutOfRange unless `n` more bytes exist.
  absl::Status Need(uint64_t n, absl::string_view what) const {
    if (n <= remaining()) return absl::OkStatus();
    return absl::OutOfRangeError(absl::StrCat(
        "truncated file: ", what, " needs ", n, " bytes at offset ", pos_,
        " but only ", remaining(), " remain"));
  }

  template <typename T>
  absl::StatusOr<T> Read(absl::string_view what) {
    TESSERA_RETURN_IF_ERROR(Need(sizeof(T), what));
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  // A uint64 length followed by that many bytes. InvalidArgument for a
  // length over `max_bytes`, OutOfRange past the end of the file.
  absl::StatusOr<std::string> ReadString(absl::string_view what,
                                         uint64_t max_bytes) {
    TESSERA_ASSIGN_OR_RETURN(uint64_t length, Read<uint64_t>(what));
    if (length > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " length ", length, " exceeds the limit of ", max_bytes));
    }
    TESSERA_RETURN_IF_ERROR(Need(length, what));
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_),
                  static_cast<size_t>(length));
    pos_ += length;
    return s;
  }

 private:
  absl::Span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

// Reads metadata values, charging every value against a global budget.
class ValueReader {
 public:
  explicit ValueReader(Cursor* cursor) : cursor_(*cursor) {}

  // One value of on-disk type `type_id`; `depth` counts enclosing arrays.
  absl::StatusOr<GgufValue> Read(uint32_t type_id, int depth);

 private:
  absl::StatusOr<GgufValue> ReadScalar(GgufValueType type);
  absl::StatusOr<GgufValue> ReadArray(int depth);

  // A scalar stored on disk as Wire, widened to the variant's Stored.
  template <typename Wire, typename Stored>
  absl::StatusOr<GgufValue> ReadAs(GgufValueType type, absl::string_view what) {
    TESSERA_ASSIGN_OR_RETURN(Wire v, cursor_.Read<Wire>(what));
    GgufValue value;
    value.type = type;
    value.scalar.emplace<Stored>(static_cast<Stored>(v));
    return value;
  }

  Cursor& cursor_;
  uint64_t values_ = 0;
};

absl::StatusOr<GgufValue> ValueReader::Read(uint32_t type_id, int depth) {
  if (!IsKnownValueType(type_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown value type ", type_id));
  }
  if (++values_ > kMaxMetadataValues) {
    return absl::ResourceExhaustedError(
        absl::StrCat("more than ", kMaxMetadataValues, " metadata values"));
  }
  const auto type = static_cast<GgufValueType>(type_id);
  if (type == GgufValueType::kArray) return ReadArray(depth);
  return ReadScalar(type);
}

absl::StatusOr<GgufValue> ValueReader::ReadScalar(GgufValueType type) {
  using T = GgufValueType;
  switch (type) {
    case T::kUint8:
      return ReadAs<uint8_t, uint64_t>(type, "uint8 value");
    case T::kInt8:
      return ReadAs<int8_t, int64_t>(type, "int8 value");
    case T::kUint16:
      return ReadAs<uint16_t, uint64_t>(type, "uint16 value");
    case T::kInt16:
      return ReadAs<int16_t, int64_t>(type, "int16 value");
    case T::kUint32:
      return ReadAs<uint32_t, uint64_t>(type, "uint32 value");
    case T::kInt32:
      return ReadAs<int32_t, int64_t>(type, "int32 value");
    case T::kUint64:
      return ReadAs<uint64_t, uint64_t>(type, "uint64 value");
    case T::kInt64:
      return ReadAs<int64_t, int64_t>(type, "int64 value");
    case T::kFloat32:
      return ReadAs<float, double>(type, "float32 value");
    case T::kFloat64:
      return ReadAs<double, double>(type, "float64 value");
    case T::kBool: {
      TESSERA_ASSIGN_OR_RETURN(uint8_t b, cursor_.Read<uint8_t>("bool value"));
      if (b > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("bool value must be 0 or 1, got ", b));
      }
      return GgufValue::Bool(b == 1);
    }
    case T::kString: {
      // Values (unlike keys) may be long, e.g. chat templates.
      TESSERA_ASSIGN_OR_RETURN(
          std::string s,
          cursor_.ReadString("string value", cursor_.remaining()));
      return GgufValue::String(std::move(s));
    }
    case T::kArray:
      break;
  }
  return absl::InternalError("array passed to ReadScalar");
}

absl::StatusOr<GgufValue> ValueReader::ReadArray(int depth) {
  if (depth >= kMaxArrayDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("arrays nested deeper than ", kMaxArrayDepth, " levels"));
  }
  TESSERA_ASSIGN_OR_RETURN(uint32_t elem_id,
                           cursor_.Read<uint32_t>("array element type"));
  if (!IsKnownValueType(elem_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown array element type ", elem_id));
  }
  TESSERA_ASSIGN_OR_RETURN(uint64_t count,
                           cursor_.Read<uint64_t>("array length"));
  const auto elem_type = static_cast<GgufValueType>(elem_id);
  uint64_t min_elem_bytes = FixedValueSize(elem_type);
  if (elem_type == GgufValueType::kString) min_elem_bytes = sizeof(uint64_t);
  if (elem_type == GgufValueType::kArray) min_elem_bytes = kMinArrayBytes;
  // Refuse before allocating: every element needs at least min_elem_bytes.
  if (count > cursor_.remaining() / min_elem_bytes) {
    return absl::OutOfRangeError(absl::StrCat(
        "array of ", count, " elements at offset ", cursor_.pos(),
        " cannot fit in the ", cursor_.remaining(), " remaining bytes"));
  }
  if (count > kMaxMetadataValues - values_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("array of ", count, " elements exceeds the limit of ",
                     kMaxMetadataValues, " metadata values"));
  }
  GgufValue value;
  value.type = GgufValueType::kArray;
  value.array_type = elem_type;
  value.array.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    absl::StatusOr<GgufValue> elem = Read(elem_id, depth + 1);
    if (!elem.ok()) {
      return Annotate(elem.status(), absl::StrCat("array element ", i));
    }
    value.array.push_back(*std::move(elem));
  }
  return value;
}

// Multiplies into *acc; false on int64 overflow. REQUIRES: both positive.
bool CheckedMul(int64_t* acc, int64_t factor) {
  if (*acc > std::numeric_limits<int64_t>::max() / factor) return false;
  *acc *= factor;
  return true;
}

// Reads one tensor info (everything but the data pointer).
absl::StatusOr<GgufTensorInfo> ReadTensorInfo(Cursor& cursor) {
  GgufTensorInfo info;
  TESSERA_ASSIGN_OR_RETURN(info.name,
                           cursor.ReadString("tensor name", kMaxNameBytes));
  if (info.name.empty()) {
    return absl::InvalidArgumentError("empty tensor name");
  }
  auto fail = [&info](absl::Status status) {
    return Annotate(status, absl::StrCat("tensor '", info.name, "'"));
  };
  absl::StatusOr<uint32_t> n_dims = cursor.Read<uint32_t>("tensor rank");
  if (!n_dims.ok()) return fail(n_dims.status());
  if (*n_dims < 1 || *n_dims > kMaxDims) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("rank ", *n_dims, " is outside 1..", kMaxDims)));
  }
  info.elements = 1;
  for (uint32_t i = 0; i < *n_dims; ++i) {
    absl::StatusOr<uint64_t> dim = cursor.Read<uint64_t>("tensor dimension");
    if (!dim.ok()) return fail(dim.status());
    if (*dim == 0 || *dim > uint64_t{std::numeric_limits<int64_t>::max()}) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("dimension ", i, " is ", static_cast<int64_t>(*dim),
                       "; must be positive")));
    }
    info.dims.push_back(static_cast<int64_t>(*dim));
    if (!CheckedMul(&info.elements, info.dims.back())) {
      return fail(absl::InvalidArgumentError("element count overflows int64"));
    }
  }
  absl::StatusOr<uint32_t> type_id = cursor.Read<uint32_t>("tensor type");
  if (!type_id.ok()) return fail(type_id.status());
  if (!GetTypeTraits(*type_id).has_value()) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("unknown tensor type id ", *type_id)));
  }
  info.type = static_cast<GgmlType>(*type_id);
  absl::StatusOr<int64_t> row_bytes = RowBytes(info.type, info.dims[0]);
  if (!row_bytes.ok()) return fail(row_bytes.status());
  info.bytes = *row_bytes;
  if (!CheckedMul(&info.bytes, info.elements / info.dims[0])) {
    return fail(absl::InvalidArgumentError("byte size overflows int64"));
  }
  absl::StatusOr<uint64_t> offset = cursor.Read<uint64_t>("tensor offset");
  if (!offset.ok()) return fail(offset.status());
  info.offset = *offset;
  return info;
}

// general.alignment: an integer of any type, a power of two in [1, 2^31].
absl::StatusOr<uint64_t> AlignmentOf(const Metadata& metadata) {
  auto it = metadata.find("general.alignment");
  if (it == metadata.end()) return uint64_t{32};
  const GgufValue* value = &it->second;
  uint64_t alignment = 0;
  if (const uint64_t* u = std::get_if<uint64_t>(&value->scalar);
      u != nullptr && internal::IsUnsignedType(value->type)) {
    alignment = *u;
  } else if (const int64_t* i = std::get_if<int64_t>(&value->scalar);
             i != nullptr && internal::IsSignedType(value->type) && *i > 0) {
    alignment = static_cast<uint64_t>(*i);
  } else if (!internal::IsSignedType(value->type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("general.alignment is of type ",
                     internal::ValueTypeName(value->type), ", not an integer"));
  }
  if (alignment == 0 || alignment > (uint64_t{1} << 31) ||
      !std::has_single_bit(alignment)) {
    return absl::InvalidArgumentError(
        absl::StrCat("general.alignment ", alignment,
                     " is not a power of two in [1, 2^31]"));
  }
  return alignment;
}

struct Header {
  uint32_t version;
  uint64_t n_tensors;
  uint64_t n_kv;
};

absl::StatusOr<Header> ReadHeader(Cursor& cursor) {
  TESSERA_ASSIGN_OR_RETURN(uint32_t magic, cursor.Read<uint32_t>("magic"));
  if (magic != kMagic) {
    return absl::InvalidArgumentError("bad magic: not a GGUF file");
  }
  Header h;
  TESSERA_ASSIGN_OR_RETURN(h.version, cursor.Read<uint32_t>("version"));
  if (h.version != 2 && h.version != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported GGUF version ", h.version,
                     " (supported: 2 and 3, little-endian)"));
  }
  TESSERA_ASSIGN_OR_RETURN(h.n_tensors, cursor.Read<uint64_t>("tensor count"));
  TESSERA_ASSIGN_OR_RETURN(h.n_kv, cursor.Read<uint64_t>("metadata count"));
  // Refuse counts the rest of the file cannot hold before reserving memory.
  if (h.n_kv > cursor.remaining() / kMinKeyValueBytes) {
    return absl::OutOfRangeError(
        absl::StrCat("metadata count ", h.n_kv, " cannot fit in the ",
                     cursor.remaining(), " remaining bytes"));
  }
  if (h.n_tensors > cursor.remaining() / kMinTensorInfoBytes) {
    return absl::OutOfRangeError(
        absl::StrCat("tensor count ", h.n_tensors, " cannot fit in the ",
                     cursor.remaining(), " remaining bytes"));
  }
  return h;
}

absl::StatusOr<Metadata> ReadMetadata(Cursor& cursor, uint64_t n_kv) {
  Metadata metadata;
  ValueReader values(&cursor);
  for (uint64_t i = 0; i < n_kv; ++i) {
    absl::StatusOr<std::string> key =
        cursor.ReadString("metadata key", kMaxNameBytes);
    if (!key.ok()) return Annotate(key.status(), absl::StrCat("key #", i));
    if (key->empty()) {
      return absl::InvalidArgumentError(absl::StrCat("key #", i, " is empty"));
    }
    const std::string context = absl::StrCat("key '", *key, "'");
    if (metadata.count(*key) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate ", context));
    }
    absl::StatusOr<uint32_t> type = cursor.Read<uint32_t>("value type");
    if (!type.ok()) return Annotate(type.status(), context);
    absl::StatusOr<GgufValue> value = values.Read(*type, 0);
    if (!value.ok()) return Annotate(value.status(), context);
    metadata.emplace(*std::move(key), *std::move(value));
  }
  return metadata;
}

// Points every tensor at its data, which starts at the first multiple of
// `alignment` at or after `infos_end` (the end of the tensor infos).
absl::Status PlaceTensorData(absl::Span<const uint8_t> file, uint64_t infos_end,
                             uint64_t alignment,
                             std::vector<GgufTensorInfo>* tensors) {
  if (tensors->empty()) return absl::OkStatus();  // no data section needed
  // infos_end <= file size < 2^63 and alignment <= 2^31: no overflow.
  const uint64_t data_start =
      (infos_end + alignment - 1) / alignment * alignment;
  if (data_start > file.size()) {
    return absl::OutOfRangeError(
        absl::StrCat("tensor data section would start at ", data_start,
                     " beyond the end of the file (", file.size(), " bytes)"));
  }
  const uint64_t data_size = file.size() - data_start;
  for (GgufTensorInfo& info : *tensors) {
    if (info.offset % alignment != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", info.name, "': offset ", info.offset,
                       " is not a multiple of the alignment ", alignment));
    }
    const uint64_t bytes = static_cast<uint64_t>(info.bytes);
    if (info.offset > data_size || bytes > data_size - info.offset) {
      return absl::OutOfRangeError(absl::StrCat(
          "tensor '", info.name, "': data at offset ", info.offset, " of ",
          bytes, " bytes lies beyond the end of the file (data section of ",
          data_size, " bytes)"));
    }
    info.data = file.data() + data_start + info.offset;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(
    const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapping,
                           MappedFile::Open(path));
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->name_ = path;
  file->bytes_ = absl::MakeConstSpan(mapping->data(), mapping->size());
  file->mapping_ = std::move(mapping);
  TESSERA_RETURN_IF_ERROR_CTX(file->Parse(), absl::StrCat("gguf ", path));
  return file;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromBuffer(
    absl::Span<const uint8_t> bytes, std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->name_ = std::move(name);
  file->bytes_ = bytes;
  TESSERA_RETURN_IF_ERROR_CTX(file->Parse(),
                              absl::StrCat("gguf ", file->name_));
  return file;
}

absl::Status GgufFile::Parse() {
  Cursor cursor(bytes_);
  TESSERA_ASSIGN_OR_RETURN(Header header, ReadHeader(cursor));
  version_ = header.version;
  TESSERA_ASSIGN_OR_RETURN(metadata_, ReadMetadata(cursor, header.n_kv));
  TESSERA_ASSIGN_OR_RETURN(alignment_, AlignmentOf(metadata_));
  tensors_.reserve(static_cast<size_t>(header.n_tensors));
  for (uint64_t i = 0; i < header.n_tensors; ++i) {
    absl::StatusOr<GgufTensorInfo> info = ReadTensorInfo(cursor);
    if (!info.ok()) return Annotate(info.status(), absl::StrCat("tensor #", i));
    if (tensor_index_.count(info->name) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate tensor name '", info->name, "'"));
    }
    tensor_index_.emplace(info->name, tensors_.size());
    tensors_.push_back(*std::move(info));
  }
  return PlaceTensorData(bytes_, cursor.pos(), alignment_, &tensors_);
}

const GgufTensorInfo* GgufFile::FindTensor(absl::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace tessera::model
