// GgufWriter: serialises metadata and tensors as GGUF v3 (layout in gguf.h).
// Tensor data follows the tensor infos at the next multiple of the alignment;
// every tensor starts on an aligned offset and is followed by zero padding up
// to the next multiple, as llama.cpp's writer does.
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "model/gguf.h"
#include "model/gguf_internal.h"

namespace tessera::model {
namespace {

using internal::ValueTypeName;

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" as little-endian uint32
constexpr uint32_t kVersion = 3;
constexpr int kMaxArrayDepth = 8;  // as the reader accepts
constexpr size_t kMaxNameBytes = 65535;

template <typename T>
void Put(std::string* out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

void PutString(std::string* out, absl::string_view s) {
  Put<uint64_t>(out, s.size());
  out->append(s.data(), s.size());
}

void PadTo(std::string* out, uint64_t alignment) {
  out->append((alignment - out->size() % alignment) % alignment, '\0');
}

// Writes an integer scalar after checking that it fits the wire type.
template <typename Wire>
absl::Status PutInt(std::string* out, const GgufValue& value) {
  using Limits = std::numeric_limits<Wire>;
  if (const uint64_t* u = std::get_if<uint64_t>(&value.scalar)) {
    if (*u <= static_cast<uint64_t>(Limits::max())) {
      Put<Wire>(out, static_cast<Wire>(*u));
      return absl::OkStatus();
    }
  } else if (const int64_t* i = std::get_if<int64_t>(&value.scalar)) {
    const bool fits = Limits::is_signed
                          ? *i >= static_cast<int64_t>(Limits::min()) &&
                                *i <= static_cast<int64_t>(Limits::max())
                          : *i >= 0 && static_cast<uint64_t>(*i) <=
                                           static_cast<uint64_t>(Limits::max());
    if (fits) {
      Put<Wire>(out, static_cast<Wire>(*i));
      return absl::OkStatus();
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        ValueTypeName(value.type), " value does not hold an integer"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("value does not fit ", ValueTypeName(value.type)));
}

absl::Status PutValue(std::string* out, const GgufValue& value, int depth);

absl::Status PutArray(std::string* out, const GgufValue& value, int depth) {
  if (depth >= kMaxArrayDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("arrays nested deeper than ", kMaxArrayDepth, " levels"));
  }
  if (!internal::IsKnownValueType(static_cast<uint32_t>(value.array_type))) {
    return absl::InvalidArgumentError("unknown array element type");
  }
  Put<uint32_t>(out, static_cast<uint32_t>(value.array_type));
  Put<uint64_t>(out, value.array.size());
  for (size_t i = 0; i < value.array.size(); ++i) {
    const GgufValue& element = value.array[i];
    if (element.type != value.array_type) {
      return absl::InvalidArgumentError(
          absl::StrCat("array element ", i, " is ", ValueTypeName(element.type),
                       " in an array of ", ValueTypeName(value.array_type)));
    }
    TESSERA_RETURN_IF_ERROR_CTX(PutValue(out, element, depth + 1),
                                absl::StrCat("array element ", i));
  }
  return absl::OkStatus();
}

absl::Status PutValue(std::string* out, const GgufValue& value, int depth) {
  using T = GgufValueType;
  switch (value.type) {
    case T::kUint8:
      return PutInt<uint8_t>(out, value);
    case T::kInt8:
      return PutInt<int8_t>(out, value);
    case T::kUint16:
      return PutInt<uint16_t>(out, value);
    case T::kInt16:
      return PutInt<int16_t>(out, value);
    case T::kUint32:
      return PutInt<uint32_t>(out, value);
    case T::kInt32:
      return PutInt<int32_t>(out, value);
    case T::kUint64:
      return PutInt<uint64_t>(out, value);
    case T::kInt64:
      return PutInt<int64_t>(out, value);
    case T::kFloat32:
    case T::kFloat64:
      if (const double* d = std::get_if<double>(&value.scalar)) {
        if (value.type == T::kFloat32) {
          Put<float>(out, static_cast<float>(*d));
        } else {
          Put<double>(out, *d);
        }
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError("float value does not hold a double");
    case T::kBool:
      if (const bool* b = std::get_if<bool>(&value.scalar)) {
        Put<uint8_t>(out, *b ? 1 : 0);
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError("bool value does not hold a bool");
    case T::kString:
      if (const std::string* s = std::get_if<std::string>(&value.scalar)) {
        PutString(out, *s);
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError("string value does not hold a string");
    case T::kArray:
      return PutArray(out, value, depth);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown value type ", static_cast<uint32_t>(value.type)));
}

// The alignment to use: general.alignment when set (validated), else 32.
absl::StatusOr<uint64_t> WriterAlignment(
    const std::vector<std::pair<std::string, GgufValue>>& metadata,
    uint64_t fallback) {
  for (const auto& [key, value] : metadata) {
    if (key != "general.alignment") continue;
    const uint64_t* u = std::get_if<uint64_t>(&value.scalar);
    if (value.type != GgufValueType::kUint32 || u == nullptr || *u == 0 ||
        *u > (uint64_t{1} << 31) || !std::has_single_bit(*u)) {
      return absl::InvalidArgumentError(
          "general.alignment must be a uint32 power of two");
    }
    return *u;
  }
  return fallback;
}

}  // namespace

void GgufWriter::SetValue(absl::string_view key, GgufValue value) {
  for (auto& [existing, old_value] : metadata_) {
    if (existing == key) {
      old_value = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::string(key), std::move(value));
}

void GgufWriter::CopyMetadata(const GgufFile& file, absl::string_view prefix) {
  for (const auto& [key, value] : file.metadata()) {
    if (absl::StartsWith(key, prefix)) SetValue(key, value);
  }
}

absl::Status GgufWriter::AddTensor(absl::string_view name, GgmlType type,
                                   std::vector<int64_t> dims,
                                   std::string data) {
  const std::string context = absl::StrCat("add tensor '", name, "'");
  if (name.empty() || name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": name must have 1..", kMaxNameBytes, " bytes"));
  }
  for (const PendingTensor& tensor : tensors_) {
    if (tensor.name == name) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": duplicate name"));
    }
  }
  if (!GetTypeTraits(static_cast<uint32_t>(type)).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": unknown type"));
  }
  if (dims.empty() || dims.size() > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": rank ", dims.size(), " is outside 1..4"));
  }
  int64_t rows = 1;  // product of dims[1:]
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": dimension ", dims[i], " is not positive"));
    }
    if (i == 0) continue;
    if (rows > std::numeric_limits<int64_t>::max() / dims[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": size overflows"));
    }
    rows *= dims[i];
  }
  absl::StatusOr<int64_t> row_bytes = RowBytes(type, dims[0]);
  if (!row_bytes.ok()) return Annotate(row_bytes.status(), context);
  if (rows > std::numeric_limits<int64_t>::max() / *row_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": size overflows"));
  }
  if (data.size() != static_cast<uint64_t>(*row_bytes * rows)) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": data has ", data.size(),
                     " bytes, the shape needs ", *row_bytes * rows));
  }
  tensors_.push_back(
      {std::string(name), type, std::move(dims), std::move(data)});
  return absl::OkStatus();
}

absl::StatusOr<std::string> GgufWriter::Serialize() const {
  TESSERA_ASSIGN_OR_RETURN(uint64_t alignment,
                           WriterAlignment(metadata_, alignment_));
  std::string out;
  Put<uint32_t>(&out, kMagic);
  Put<uint32_t>(&out, kVersion);
  Put<uint64_t>(&out, tensors_.size());
  Put<uint64_t>(&out, metadata_.size());
  for (const auto& [key, value] : metadata_) {
    if (key.empty() || key.size() > kMaxNameBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata key '", key, "': bad length"));
    }
    PutString(&out, key);
    Put<uint32_t>(&out, static_cast<uint32_t>(value.type));
    TESSERA_RETURN_IF_ERROR_CTX(PutValue(&out, value, 0),
                                absl::StrCat("metadata key '", key, "'"));
  }
  uint64_t offset = 0;  // within the data section
  for (const PendingTensor& tensor : tensors_) {
    PutString(&out, tensor.name);
    Put<uint32_t>(&out, static_cast<uint32_t>(tensor.dims.size()));
    for (int64_t dim : tensor.dims) Put<uint64_t>(&out, dim);
    Put<uint32_t>(&out, static_cast<uint32_t>(tensor.type));
    Put<uint64_t>(&out, offset);
    offset += (tensor.data.size() + alignment - 1) / alignment * alignment;
  }
  PadTo(&out, alignment);
  for (const PendingTensor& tensor : tensors_) {
    out.append(tensor.data);
    PadTo(&out, alignment);
  }
  return out;
}

absl::Status GgufWriter::WriteToFile(const std::string& path) const {
  TESSERA_ASSIGN_OR_RETURN(std::string bytes, Serialize());
  return WriteStringToFile(path, bytes);
}

}  // namespace tessera::model
