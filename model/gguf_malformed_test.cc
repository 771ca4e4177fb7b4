// Hostile and damaged GGUF input: every case must give a non-OK status or a
// fully valid file, never a crash, an out-of-bounds read or a huge
// allocation. Inputs are copied into exactly-sized heap buffers so that
// AddressSanitizer (TESSERA_SANITIZE=ON) catches any read past the end.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/gguf.h"

namespace tessera::model {
namespace {

using Bytes = std::vector<uint8_t>;

// Little-endian byte builder for hand-made headers.
class Raw {
 public:
  Raw& U8(uint8_t v) { return Put(&v, 1); }
  Raw& U32(uint32_t v) { return Put(&v, 4); }
  Raw& U64(uint64_t v) { return Put(&v, 8); }
  Raw& F32(float v) { return Put(&v, 4); }
  Raw& Str(const std::string& s) {
    U64(s.size());
    return Put(s.data(), s.size());
  }
  Raw& Header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return U32(0x46554747).U32(version).U64(n_tensors).U64(n_kv);
  }
  Raw& Pad(size_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    return *this;
  }
  Raw& Zeros(size_t n) {
    bytes_.insert(bytes_.end(), n, 0);
    return *this;
  }
  const Bytes& bytes() const { return bytes_; }

 private:
  Raw& Put(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) bytes_.push_back(b[i]);
    return *this;
  }
  Bytes bytes_;
};

// Checks what an accepted file promises: tensors inside the buffer, sizes
// consistent, data readable (ASan checks the reads), getters safe.
void CheckValid(const GgufFile& file, const Bytes& buffer) {
  const uint8_t* begin = buffer.data();
  const uint8_t* end = begin + buffer.size();
  unsigned sum = 0;
  for (const GgufTensorInfo& t : file.tensors()) {
    ASSERT_GE(t.dims.size(), 1u);
    ASSERT_LE(t.dims.size(), 4u);
    int64_t rows = 1;
    for (size_t i = 1; i < t.dims.size(); ++i) rows *= t.dims[i];
    ASSERT_EQ(t.bytes, *RowBytes(t.type, t.dims[0]) * rows);
    ASSERT_EQ(t.offset % file.alignment(), 0u);
    ASSERT_GE(t.data, begin);
    ASSERT_LE(t.bytes, end - t.data);
    if (t.bytes > 0) sum += t.data[0] + t.data[t.bytes - 1];
  }
  for (const auto& [key, value] : file.metadata()) {
    (void)file.GetString(key);
    (void)file.GetInt(key);
    (void)file.GetFloatArray(key);
    (void)file.GetStringArray(key);
  }
  (void)sum;
}

// Parses a private, exactly-sized copy of bytes[0, n).
absl::Status Parse(const Bytes& bytes, size_t n) {
  Bytes copy(bytes.begin(), bytes.begin() + n);
  auto file = GgufFile::FromBuffer(absl::MakeConstSpan(copy));
  if (file.ok()) CheckValid(**file, copy);
  return file.status();
}
absl::Status Parse(const Bytes& bytes) { return Parse(bytes, bytes.size()); }

// A small valid file with every kind of metadata and three tensors.
Bytes SmallValidFile(size_t* tensor_data_end) {
  GgufWriter writer;
  writer.SetValue("general.architecture", GgufValue::String("llama"));
  writer.SetValue("llama.block_count", GgufValue::U32(2));
  writer.SetValue("llama.rope.freq_base", GgufValue::F32(10000.0f));
  writer.SetValue("flag", GgufValue::Bool(true));
  writer.SetValue("tokenizer.ggml.tokens",
                  GgufValue::StringArray({"<s>", "a", "bc"}));
  GgufValue nested;
  nested.type = GgufValueType::kArray;
  nested.array_type = GgufValueType::kArray;
  nested.array = {GgufValue::I32Array({1, 2}), GgufValue::I32Array({})};
  writer.SetValue("nested", nested);
  std::string q8(34, '\x01');
  EXPECT_TRUE(
      writer.AddTensor("a", GgmlType::kF32, {2, 2}, std::string(16, '\x02'))
          .ok());
  EXPECT_TRUE(writer.AddTensor("b", GgmlType::kQ8_0, {32}, q8).ok());
  EXPECT_TRUE(
      writer.AddTensor("c", GgmlType::kF16, {3}, std::string(6, '\x03')).ok());
  std::string s = *writer.Serialize();
  Bytes bytes(s.begin(), s.end());
  auto file = GgufFile::FromBuffer(absl::MakeConstSpan(bytes));
  EXPECT_TRUE(file.ok()) << file.status();
  const GgufTensorInfo* c = (*file)->FindTensor("c");
  *tensor_data_end = static_cast<size_t>(c->data + c->bytes - bytes.data());
  return bytes;
}

TEST(GgufMalformedTest, EveryTruncationIsRejected) {
  size_t data_end = 0;
  const Bytes file = SmallValidFile(&data_end);
  ASSERT_TRUE(Parse(file).ok());
  for (size_t n = 0; n < file.size(); ++n) {
    absl::Status status = Parse(file, n);
    // Only the trailing padding after the last tensor may be cut.
    if (n < data_end) {
      EXPECT_FALSE(status.ok()) << "prefix of " << n << " bytes accepted";
    }
  }
}

TEST(GgufMalformedTest, SeededByteFlipsNeverCrash) {
  size_t data_end = 0;
  const Bytes file = SmallValidFile(&data_end);
  std::mt19937 rng(20240607);
  int rejected = 0;
  constexpr int kTrials = 4000;
  for (int trial = 0; trial < kTrials; ++trial) {
    Bytes mutated = file;
    const int flips = 1 + trial % 4;
    for (int f = 0; f < flips; ++f) {
      // Mostly the header and metadata, where the structure lives.
      const size_t pos = rng() % (trial % 8 == 0 ? mutated.size() : 200);
      mutated[pos] = trial % 3 == 0 ? static_cast<uint8_t>(rng())
                                    : mutated[pos] ^ (1u << (rng() % 8));
    }
    if (!Parse(mutated).ok()) ++rejected;
  }
  // Most mutations of a dense header are detectable.
  EXPECT_GT(rejected, kTrials / 4);
}

TEST(GgufMalformedTest, RandomGarbageAfterValidHeaderNeverCrashes) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 2000; ++trial) {
    Raw raw;
    raw.Header(rng() % 4, rng() % 4);
    const size_t extra = rng() % 96;
    Bytes bytes = raw.bytes();
    for (size_t i = 0; i < extra; ++i) {
      // Small values make plausible lengths, types and counts.
      bytes.push_back(
          static_cast<uint8_t>(rng() % 3 == 0 ? rng() : rng() % 14));
    }
    (void)Parse(bytes);
  }
}

TEST(GgufMalformedTest, BadMagicAndVersions) {
  EXPECT_EQ(Parse(Raw().U32(0x46554746).U32(3).U64(0).U64(0).bytes()).code(),
            absl::StatusCode::kInvalidArgument);
  for (uint32_t version : {0u, 1u, 4u, 0x03000000u}) {
    EXPECT_EQ(Parse(Raw().Header(0, 0, version).bytes()).code(),
              absl::StatusCode::kInvalidArgument)
        << version;
  }
  EXPECT_TRUE(Parse(Raw().Header(0, 0, 2).bytes()).ok());
  EXPECT_TRUE(Parse(Raw().Header(0, 0, 3).bytes()).ok());
  EXPECT_FALSE(Parse(Bytes{}).ok());
  EXPECT_FALSE(Parse(Bytes{'G', 'G', 'U'}).ok());
}

TEST(GgufMalformedTest, HugeCountsAreRejectedBeforeAllocating) {
  for (uint64_t count :
       {~uint64_t{0}, uint64_t{1} << 63, uint64_t{1} << 40, uint64_t{1000}}) {
    EXPECT_EQ(Parse(Raw().Header(count, 0).bytes()).code(),
              absl::StatusCode::kOutOfRange)
        << count;
    EXPECT_EQ(Parse(Raw().Header(0, count).bytes()).code(),
              absl::StatusCode::kOutOfRange)
        << count;
  }
}

TEST(GgufMalformedTest, HugeStringLengths) {
  for (uint64_t length : {~uint64_t{0}, uint64_t{1} << 63, uint64_t{100}}) {
    // As a key.
    EXPECT_FALSE(Parse(Raw().Header(0, 1).U64(length).Zeros(20).bytes()).ok());
    // As a string value.
    EXPECT_FALSE(
        Parse(Raw().Header(0, 1).Str("k").U32(8).U64(length).Zeros(8).bytes())
            .ok());
    // As a tensor name.
    EXPECT_FALSE(Parse(Raw().Header(1, 0).U64(length).Zeros(40).bytes()).ok());
  }
  // A key over the 65535-byte limit, even though the bytes are there.
  Raw long_key;
  long_key.Header(0, 1).Str(std::string(70000, 'k')).U32(4).U32(1);
  EXPECT_EQ(Parse(long_key.bytes()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(GgufMalformedTest, HugeArrayCounts) {
  // Element types 0..12 with counts whose byte size overflows or exceeds
  // the file.
  for (uint32_t elem = 0; elem <= 12; ++elem) {
    for (uint64_t count :
         {~uint64_t{0}, uint64_t{1} << 61, uint64_t{1} << 32, uint64_t{64}}) {
      Raw raw;
      raw.Header(0, 1).Str("arr").U32(9).U32(elem).U64(count).Zeros(16);
      EXPECT_FALSE(Parse(raw.bytes()).ok()) << elem << " x " << count;
    }
  }
}

TEST(GgufMalformedTest, MetadataValueBudget) {
  // 5M one-byte values fit the file but exceed the value budget (each
  // value costs far more than a byte in memory).
  Raw raw;
  raw.Header(0, 1).Str("big").U32(9).U32(0).U64(5'000'000).Zeros(5'000'000);
  EXPECT_EQ(Parse(raw.bytes()).code(), absl::StatusCode::kResourceExhausted);
}

TEST(GgufMalformedTest, DeeplyNestedArrays) {
  for (int depth : {7, 8, 9, 100, 10000}) {
    Raw raw;
    raw.Header(0, 1).Str("deep").U32(9);
    for (int i = 0; i < depth; ++i) raw.U32(9).U64(1);
    raw.U32(4).U64(1).U32(7);  // innermost: one uint32
    absl::Status status = Parse(raw.bytes());
    if (depth < 8) {
      EXPECT_TRUE(status.ok()) << depth << ": " << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << depth;
    }
  }
}

TEST(GgufMalformedTest, UnknownValueTypes) {
  for (uint32_t type : {13u, 100u, 0xFFFFFFFFu}) {
    EXPECT_EQ(
        Parse(Raw().Header(0, 1).Str("k").U32(type).Zeros(16).bytes()).code(),
        absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Parse(Raw()
                        .Header(0, 1)
                        .Str("k")
                        .U32(9)
                        .U32(type)
                        .U64(1)
                        .Zeros(16)
                        .bytes())
                  .code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(GgufMalformedTest, BadScalars) {
  EXPECT_EQ(Parse(Raw().Header(0, 1).Str("b").U32(7).U8(2).bytes()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Parse(Raw().Header(0, 1).Str("b").U32(7).U8(1).bytes()).ok());
  EXPECT_EQ(Parse(Raw().Header(0, 1).Str("").U32(4).U32(1).bytes()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GgufMalformedTest, DuplicateKeysAndTensorNames) {
  Raw keys;
  keys.Header(0, 2).Str("k").U32(4).U32(1).Str("k").U32(4).U32(2);
  EXPECT_EQ(Parse(keys.bytes()).code(), absl::StatusCode::kInvalidArgument);
  Raw tensors;
  tensors.Header(2, 0);
  for (int i = 0; i < 2; ++i) tensors.Str("t").U32(1).U64(1).U32(0).U64(0);
  tensors.Pad(32).Zeros(32);
  EXPECT_EQ(Parse(tensors.bytes()).code(), absl::StatusCode::kInvalidArgument);
}

// One tensor info followed by padding and `data_bytes` of data.
Bytes OneTensor(std::vector<uint64_t> dims, uint32_t type, uint64_t offset,
                size_t data_bytes, uint32_t n_dims_override = 0) {
  Raw raw;
  raw.Header(1, 0).Str("t");
  raw.U32(n_dims_override ? n_dims_override
                          : static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) raw.U64(d);
  raw.U32(type).U64(offset).Pad(32).Zeros(data_bytes);
  return raw.bytes();
}

TEST(GgufMalformedTest, TensorShapes) {
  EXPECT_TRUE(Parse(OneTensor({4, 2}, 0, 0, 32)).ok());
  EXPECT_EQ(Parse(OneTensor({}, 0, 0, 32)).code(),
            absl::StatusCode::kInvalidArgument);  // rank 0
  EXPECT_EQ(Parse(OneTensor({1, 1, 1, 1, 1}, 0, 0, 32)).code(),
            absl::StatusCode::kInvalidArgument);  // rank 5
  EXPECT_FALSE(Parse(OneTensor({1}, 0, 0, 32, /*n_dims=*/0xFFFFFFFF)).ok());
  EXPECT_EQ(Parse(OneTensor({0}, 0, 0, 32)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Parse(OneTensor({uint64_t{1} << 63}, 0, 0, 32)).code(),
            absl::StatusCode::kInvalidArgument);  // negative as int64
  EXPECT_EQ(
      Parse(OneTensor({uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0, 32)).code(),
      absl::StatusCode::kInvalidArgument);  // 2^64 elements
  EXPECT_EQ(Parse(OneTensor({uint64_t{1} << 62}, 0, 0, 32)).code(),
            absl::StatusCode::kInvalidArgument);  // 2^64 bytes
  EXPECT_EQ(Parse(OneTensor({33}, 8, 0, 64)).code(),
            absl::StatusCode::kInvalidArgument);  // Q8_0 row of 33
  EXPECT_TRUE(Parse(OneTensor({32}, 8, 0, 34)).ok());
}

TEST(GgufMalformedTest, UnknownTensorTypes) {
  for (uint32_t type : {4u, 5u, 16u, 29u, 31u, 1000u, 0xFFFFFFFFu}) {
    EXPECT_EQ(Parse(OneTensor({32}, type, 0, 256)).code(),
              absl::StatusCode::kInvalidArgument)
        << type;
  }
}

TEST(GgufMalformedTest, TensorDataOutsideTheFile) {
  EXPECT_EQ(Parse(OneTensor({8}, 0, 0, 31)).code(),
            absl::StatusCode::kOutOfRange);  // one byte short
  EXPECT_TRUE(Parse(OneTensor({8}, 0, 0, 32)).ok());
  EXPECT_EQ(Parse(OneTensor({8}, 0, 32, 32)).code(),
            absl::StatusCode::kOutOfRange);
  for (uint64_t offset :
       {~uint64_t{0} - 31, uint64_t{1} << 63, (uint64_t{1} << 63) - 32}) {
    EXPECT_EQ(Parse(OneTensor({8}, 0, offset, 32)).code(),
              absl::StatusCode::kOutOfRange)
        << offset;
  }
  EXPECT_EQ(Parse(OneTensor({1}, 0, 4, 64)).code(),
            absl::StatusCode::kInvalidArgument);  // misaligned
  // Tensor infos but no data section at all.
  Raw raw;
  raw.Header(1, 0).Str("t").U32(1).U64(1).U32(0).U64(0);
  EXPECT_EQ(Parse(raw.bytes()).code(), absl::StatusCode::kOutOfRange);
}

// A file with general.alignment of the given encoding and one F32 tensor.
Bytes WithAlignment(uint32_t value_type, uint64_t value, size_t value_bytes) {
  Raw raw;
  raw.Header(1, 1).Str("general.alignment").U32(value_type);
  for (size_t i = 0; i < value_bytes; ++i)
    raw.U8(static_cast<uint8_t>(value >> (8 * i)));
  raw.Str("t").U32(1).U64(1).U32(0).U64(0).Pad(64).Zeros(64);
  return raw.bytes();
}

TEST(GgufMalformedTest, Alignment) {
  for (uint64_t bad : {0ull, 3ull, 48ull, 0xFFFFFFFFull}) {
    EXPECT_EQ(Parse(WithAlignment(4, bad, 4)).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(Parse(WithAlignment(10, uint64_t{1} << 63, 8)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Parse(WithAlignment(5, 0xFFFFFFE0u, 4)).code(),  // int32 -32
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Parse(WithAlignment(6, 0x42000000u, 4)).code(),  // float 32.0
            absl::StatusCode::kInvalidArgument);
  for (uint64_t good : {1ull, 8ull, 32ull, 64ull}) {
    absl::Status status = Parse(WithAlignment(4, good, 4));
    EXPECT_TRUE(status.ok()) << good << ": " << status;
  }
  // A huge (valid) alignment whose padding points past the end of the file.
  EXPECT_EQ(Parse(WithAlignment(4, uint64_t{1} << 31, 4)).code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace tessera::model
