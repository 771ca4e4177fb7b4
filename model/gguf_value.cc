// GgufValue constructors, value-type helpers and GgufFile's typed metadata
// getters.
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/gguf.h"
#include "model/gguf_internal.h"

namespace tessera::model {
namespace internal {

uint64_t FixedValueSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

const char* ValueTypeName(GgufValueType type) {
  static constexpr const char* kNames[] = {
      "uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
      "bool",  "string", "array",  "uint64", "int64",  "float64"};
  const auto id = static_cast<uint32_t>(type);
  return IsKnownValueType(id) ? kNames[id] : "unknown";
}

bool IsUnsignedType(GgufValueType type) {
  return type == GgufValueType::kUint8 || type == GgufValueType::kUint16 ||
         type == GgufValueType::kUint32 || type == GgufValueType::kUint64;
}

bool IsSignedType(GgufValueType type) {
  return type == GgufValueType::kInt8 || type == GgufValueType::kInt16 ||
         type == GgufValueType::kInt32 || type == GgufValueType::kInt64;
}

bool IsFloatType(GgufValueType type) {
  return type == GgufValueType::kFloat32 || type == GgufValueType::kFloat64;
}

}  // namespace internal

namespace {

using internal::IsFloatType;
using internal::IsSignedType;
using internal::IsUnsignedType;
using internal::ValueTypeName;

GgufValue Scalar(GgufValueType type, internal::GgufScalar scalar) {
  GgufValue value;
  value.type = type;
  value.scalar = std::move(scalar);
  return value;
}

absl::Status TypeMismatch(const GgufValue& value, absl::string_view wanted) {
  std::string actual = ValueTypeName(value.type);
  if (value.type == GgufValueType::kArray) {
    absl::StrAppend(&actual, " of ", ValueTypeName(value.array_type));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("is ", actual, ", not ", wanted));
}

// Integer value of a scalar of any integer type, if it fits int64.
absl::StatusOr<int64_t> AsInt(const GgufValue& value) {
  if (IsSignedType(value.type)) {
    if (const int64_t* v = std::get_if<int64_t>(&value.scalar)) return *v;
  } else if (IsUnsignedType(value.type)) {
    if (const uint64_t* v = std::get_if<uint64_t>(&value.scalar)) {
      if (*v > uint64_t{std::numeric_limits<int64_t>::max()}) {
        return absl::InvalidArgumentError(
            absl::StrCat("value ", *v, " does not fit int64"));
      }
      return static_cast<int64_t>(*v);
    }
  }
  return TypeMismatch(value, "an integer");
}

// Floating value of a float or integer scalar.
absl::StatusOr<double> AsFloat(const GgufValue& value) {
  if (IsFloatType(value.type)) {
    if (const double* v = std::get_if<double>(&value.scalar)) return *v;
  } else if (IsSignedType(value.type) || IsUnsignedType(value.type)) {
    if (const int64_t* v = std::get_if<int64_t>(&value.scalar)) {
      return static_cast<double>(*v);
    }
    if (const uint64_t* v = std::get_if<uint64_t>(&value.scalar)) {
      return static_cast<double>(*v);
    }
  }
  return TypeMismatch(value, "a number");
}

absl::StatusOr<std::string> AsString(const GgufValue& value) {
  if (value.type == GgufValueType::kString) {
    if (const std::string* v = std::get_if<std::string>(&value.scalar)) {
      return *v;
    }
  }
  return TypeMismatch(value, "a string");
}

// Converts every element of an array value with `convert`.
template <typename T, typename Convert>
absl::StatusOr<std::vector<T>> ArrayOf(const GgufValue& value,
                                       absl::string_view wanted,
                                       Convert convert) {
  if (value.type != GgufValueType::kArray) return TypeMismatch(value, wanted);
  std::vector<T> out;
  out.reserve(value.array.size());
  for (size_t i = 0; i < value.array.size(); ++i) {
    auto element = convert(value.array[i]);
    if (!element.ok()) {
      return Annotate(element.status(), absl::StrCat("element ", i));
    }
    out.push_back(static_cast<T>(*std::move(element)));
  }
  return out;
}

}  // namespace

GgufValue GgufValue::U32(uint32_t v) {
  return Scalar(GgufValueType::kUint32, uint64_t{v});
}
GgufValue GgufValue::I32(int32_t v) {
  return Scalar(GgufValueType::kInt32, int64_t{v});
}
GgufValue GgufValue::U64(uint64_t v) {
  return Scalar(GgufValueType::kUint64, v);
}
GgufValue GgufValue::F32(float v) {
  return Scalar(GgufValueType::kFloat32, static_cast<double>(v));
}
GgufValue GgufValue::Bool(bool v) {
  return Scalar(GgufValueType::kBool,
                internal::GgufScalar(std::in_place_type<bool>, v));
}
GgufValue GgufValue::String(std::string v) {
  return Scalar(
      GgufValueType::kString,
      internal::GgufScalar(std::in_place_type<std::string>, std::move(v)));
}

GgufValue GgufValue::StringArray(std::vector<std::string> v) {
  GgufValue value;
  value.type = GgufValueType::kArray;
  value.array_type = GgufValueType::kString;
  value.array.reserve(v.size());
  for (std::string& s : v) value.array.push_back(String(std::move(s)));
  return value;
}

GgufValue GgufValue::F32Array(const std::vector<float>& v) {
  GgufValue value;
  value.type = GgufValueType::kArray;
  value.array_type = GgufValueType::kFloat32;
  value.array.reserve(v.size());
  for (float f : v) value.array.push_back(F32(f));
  return value;
}

GgufValue GgufValue::I32Array(const std::vector<int32_t>& v) {
  GgufValue value;
  value.type = GgufValueType::kArray;
  value.array_type = GgufValueType::kInt32;
  value.array.reserve(v.size());
  for (int32_t i : v) value.array.push_back(I32(i));
  return value;
}

const GgufValue* GgufFile::Find(absl::string_view key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

namespace {

// Looks up `key` and applies `convert`; errors name the file and the key.
template <typename Convert>
auto Get(const GgufFile& file, absl::string_view key, Convert convert)
    -> decltype(convert(std::declval<const GgufValue&>())) {
  const GgufValue* value = file.Find(key);
  if (value == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(file.name(), ": no metadata key '", key, "'"));
  }
  auto result = convert(*value);
  if (!result.ok()) {
    return Annotate(result.status(),
                    absl::StrCat(file.name(), ": metadata key '", key, "'"));
  }
  return result;
}

}  // namespace

absl::StatusOr<std::string> GgufFile::GetString(absl::string_view key) const {
  return Get(*this, key, AsString);
}

absl::StatusOr<int64_t> GgufFile::GetInt(absl::string_view key) const {
  return Get(*this, key, AsInt);
}

absl::StatusOr<double> GgufFile::GetFloat(absl::string_view key) const {
  return Get(*this, key, AsFloat);
}

absl::StatusOr<bool> GgufFile::GetBool(absl::string_view key) const {
  return Get(*this, key, [](const GgufValue& v) -> absl::StatusOr<bool> {
    if (v.type == GgufValueType::kBool) {
      if (const bool* b = std::get_if<bool>(&v.scalar)) return *b;
    }
    return TypeMismatch(v, "a bool");
  });
}

absl::StatusOr<std::vector<std::string>> GgufFile::GetStringArray(
    absl::string_view key) const {
  return Get(*this, key, [](const GgufValue& v) {
    return ArrayOf<std::string>(v, "an array of strings", AsString);
  });
}

absl::StatusOr<std::vector<float>> GgufFile::GetFloatArray(
    absl::string_view key) const {
  return Get(*this, key, [](const GgufValue& v) {
    return ArrayOf<float>(v, "an array of numbers", AsFloat);
  });
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(
    absl::string_view key) const {
  return Get(*this, key, [](const GgufValue& v) {
    return ArrayOf<int64_t>(v, "an array of integers", AsInt);
  });
}

}  // namespace tessera::model
