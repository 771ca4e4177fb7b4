// Internal to tessera_model: metadata value-type helpers shared by the GGUF
// reader (gguf.cc), the value accessors (gguf_value.cc) and the writer
// (gguf_writer.cc). Pure functions, thread-safe.
#ifndef TESSERA_MODEL_GGUF_INTERNAL_H_
#define TESSERA_MODEL_GGUF_INTERNAL_H_

#include <cstdint>

#include "model/gguf.h"

namespace tessera::model::internal {

using GgufScalar = decltype(GgufValue::scalar);

// True for the on-disk ids 0..12 of GgufValueType.
inline bool IsKnownValueType(uint32_t id) {
  return id <= static_cast<uint32_t>(GgufValueType::kFloat64);
}

// Encoded bytes of a fixed-size value type; 0 for string and array.
// REQUIRES: IsKnownValueType(type).
uint64_t FixedValueSize(GgufValueType type);

// "uint8", "string", "array", ...; "unknown" for other ids.
const char* ValueTypeName(GgufValueType type);

bool IsUnsignedType(GgufValueType type);  // uint8/16/32/64
bool IsSignedType(GgufValueType type);    // int8/16/32/64
bool IsFloatType(GgufValueType type);     // float32/64

}  // namespace tessera::model::internal

#endif  // TESSERA_MODEL_GGUF_INTERNAL_H_
