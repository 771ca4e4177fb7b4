#include "model/gguf.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/testing/shared_data.h"
#include "gtest/gtest.h"

namespace tessera::model {
namespace {

std::string StoriesPath() {
  return testing::SharedPath("models/stories260K.gguf");
}

absl::Span<const uint8_t> AsBytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// Recursive equality with a path in the failure message.
void ExpectSameValue(const GgufValue& want, const GgufValue& got,
                     const std::string& path) {
  ASSERT_EQ(want.type, got.type) << path;
  if (want.type != GgufValueType::kArray) {
    EXPECT_TRUE(want.scalar == got.scalar) << path;
    return;
  }
  ASSERT_EQ(want.array_type, got.array_type) << path;
  ASSERT_EQ(want.array.size(), got.array.size()) << path;
  for (size_t i = 0; i < want.array.size(); ++i) {
    ExpectSameValue(want.array[i], got.array[i],
                    path + "[" + std::to_string(i) + "]");
  }
}

GgufValue Make(GgufValueType type, decltype(GgufValue::scalar) scalar) {
  GgufValue v;
  v.type = type;
  v.scalar = std::move(scalar);
  return v;
}

GgufValue ArrayOf(GgufValueType type, std::vector<GgufValue> elements) {
  GgufValue v;
  v.type = GgufValueType::kArray;
  v.array_type = type;
  v.array = std::move(elements);
  return v;
}

absl::StatusOr<std::unique_ptr<GgufFile>> RoundTrip(const GgufWriter& writer,
                                                    std::string* bytes) {
  absl::StatusOr<std::string> serialized = writer.Serialize();
  if (!serialized.ok()) return serialized.status();
  *bytes = *std::move(serialized);
  return GgufFile::FromBuffer(AsBytes(*bytes));
}

TEST(GgufTest, ReadsStories260K) {
  TESSERA_REQUIRE_SHARED_FILE(StoriesPath());
  auto file = GgufFile::Open(StoriesPath());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->version(), 3u);
  EXPECT_EQ((*file)->alignment(), 32u);
  EXPECT_EQ((*file)->tensors().size(), 48u);
  EXPECT_EQ(*(*file)->GetString("general.architecture"), "llama");
  EXPECT_EQ(*(*file)->GetInt("llama.block_count"), 5);
  EXPECT_EQ(*(*file)->GetInt("llama.embedding_length"), 64);
  auto tokens = (*file)->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->size(), 512u);
  auto scores = (*file)->GetFloatArray("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->size(), 512u);
}

TEST(GgufTest, Stories260KTensorsLieInsideTheFile) {
  TESSERA_REQUIRE_SHARED_FILE(StoriesPath());
  auto file = GgufFile::Open(StoriesPath());
  ASSERT_TRUE(file.ok()) << file.status();
  const GgufTensorInfo* embd = (*file)->FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, GgmlType::kF32);
  EXPECT_EQ(embd->dims, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(embd->elements, 64 * 512);
  EXPECT_EQ(embd->bytes, 64 * 512 * 4);
  EXPECT_EQ((*file)->FindTensor("no.such.tensor"), nullptr);
  const uint8_t* begin = (*file)->bytes().data();
  const uint8_t* end = begin + (*file)->bytes().size();
  for (const GgufTensorInfo& t : (*file)->tensors()) {
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    EXPECT_GE(t.data, begin) << t.name;
    EXPECT_LE(t.data + t.bytes, end) << t.name;
    EXPECT_EQ((*file)->FindTensor(t.name), &t);
  }
}

TEST(GgufTest, ReadsVocabularyOnlyFiles) {
  for (const char* name : {"llama-spm", "gpt-2", "phi-3", "starcoder", "falcon",
                           "deepseek-coder"}) {
    std::string path =
        testing::SharedPath(std::string("vocab/ggml-vocab-") + name + ".gguf");
    TESSERA_REQUIRE_SHARED_FILE(path);
    auto file = GgufFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status();
    auto tokens = (*file)->GetStringArray("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok()) << name << ": " << tokens.status();
    EXPECT_GT(tokens->size(), 1000u) << name;
  }
}

TEST(GgufTest, OpenMissingFileIsNotFound) {
  auto file = GgufFile::Open(testing::TempDir() + "/does-not-exist.gguf");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
}

TEST(GgufTest, GettersReportAbsentAndMistypedKeys) {
  GgufWriter writer;
  writer.SetValue("s", GgufValue::String("text"));
  writer.SetValue("u", GgufValue::U32(7));
  writer.SetValue("big", GgufValue::U64(uint64_t{1} << 63));
  writer.SetValue("f", GgufValue::F32(0.5f));
  writer.SetValue("b", GgufValue::Bool(true));
  writer.SetValue("ints", GgufValue::I32Array({1, -2, 3}));
  std::string bytes;
  auto file = RoundTrip(writer, &bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  const GgufFile& f = **file;
  EXPECT_EQ(f.GetInt("absent").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(f.GetString("u").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetInt("s").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetInt("big").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetBool("u").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetStringArray("ints").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*f.GetInt("u"), 7);
  EXPECT_EQ(*f.GetFloat("f"), 0.5);
  EXPECT_EQ(*f.GetFloat("u"), 7.0);  // integers widen to float
  EXPECT_TRUE(*f.GetBool("b"));
  EXPECT_EQ(*f.GetIntArray("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(*f.GetFloatArray("ints"), (std::vector<float>{1, -2, 3}));
  EXPECT_NE(f.GetString("u").status().message().find("'u'"), std::string::npos);
}

TEST(GgufTest, WriterRoundTripsEveryValueType) {
  using T = GgufValueType;
  std::vector<std::pair<std::string, GgufValue>> values = {
      {"u8", Make(T::kUint8, uint64_t{255})},
      {"i8", Make(T::kInt8, int64_t{-128})},
      {"u16", Make(T::kUint16, uint64_t{65535})},
      {"i16", Make(T::kInt16, int64_t{-32768})},
      {"u32", GgufValue::U32(4000000000u)},
      {"i32", GgufValue::I32(-2000000000)},
      {"f32", GgufValue::F32(-1.25e-3f)},
      {"bool.false", GgufValue::Bool(false)},
      {"bool.true", GgufValue::Bool(true)},
      {"string", GgufValue::String(std::string("h\xc3\xa9llo\0x", 8))},
      {"empty.string", GgufValue::String("")},
      {"u64", GgufValue::U64(~uint64_t{0})},
      {"i64", Make(T::kInt64, int64_t{-(int64_t{1} << 62)})},
      {"f64", Make(T::kFloat64, 3.141592653589793)},
      {"array.u8", ArrayOf(T::kUint8, {Make(T::kUint8, uint64_t{1}),
                                       Make(T::kUint8, uint64_t{2})})},
      {"array.f32", GgufValue::F32Array({1.5f, -2.0f})},
      {"array.i32", GgufValue::I32Array({-1, 0, 1})},
      {"array.strings", GgufValue::StringArray({"a", "", "ccc"})},
      {"array.bool", ArrayOf(T::kBool, {GgufValue::Bool(true)})},
      {"array.f64", ArrayOf(T::kFloat64, {Make(T::kFloat64, 1e300)})},
      {"array.empty", ArrayOf(T::kInt64, {})},
      {"array.nested",
       ArrayOf(T::kArray,
               {GgufValue::I32Array({1, 2}), GgufValue::StringArray({"x"}),
                ArrayOf(T::kArray, {GgufValue::F32Array({})})})},
  };
  GgufWriter writer;
  for (const auto& [key, value] : values) writer.SetValue(key, value);
  std::string bytes;
  auto file = RoundTrip(writer, &bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().size(), values.size());
  for (const auto& [key, value] : values) {
    const GgufValue* got = (*file)->Find(key);
    ASSERT_NE(got, nullptr) << key;
    ExpectSameValue(value, *got, key);
  }
}

TEST(GgufTest, WriterRoundTripsEveryTensorType) {
  std::mt19937 rng(42);
  GgufWriter writer;
  std::vector<std::string> datas;
  const GgmlType kTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kQ4_0,
                             GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                             GgmlType::kQ8_0, GgmlType::kQ8_1, GgmlType::kQ2_K,
                             GgmlType::kQ3_K, GgmlType::kQ4_K, GgmlType::kQ5_K,
                             GgmlType::kQ6_K, GgmlType::kQ8_K, GgmlType::kBF16};
  for (GgmlType type : kTypes) {
    // Odd byte counts exercise the padding between tensors.
    std::vector<int64_t> dims = {Traits(type).block_elements * 2, 3};
    std::string data(*RowBytes(type, dims[0]) * 3, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    datas.push_back(data);
    ASSERT_TRUE(writer.AddTensor(TypeName(type), type, dims, data).ok());
  }
  std::string bytes;
  auto file = RoundTrip(writer, &bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->tensors().size(), std::size(kTypes));
  for (size_t i = 0; i < std::size(kTypes); ++i) {
    const GgufTensorInfo& t = (*file)->tensors()[i];
    EXPECT_EQ(t.name, TypeName(kTypes[i]));
    EXPECT_EQ(t.type, kTypes[i]);
    EXPECT_EQ(t.dims[1], 3);
    EXPECT_EQ(t.offset % 32, 0u);
    ASSERT_EQ(t.bytes, static_cast<int64_t>(datas[i].size()));
    EXPECT_EQ(std::memcmp(t.data, datas[i].data(), datas[i].size()), 0)
        << t.name;
  }
  EXPECT_EQ(bytes.size() % 32, 0u);
}

TEST(GgufTest, WriterHonoursCustomAlignment) {
  GgufWriter writer;
  writer.SetValue("general.alignment", GgufValue::U32(256));
  ASSERT_TRUE(
      writer.AddTensor("a", GgmlType::kF32, {3}, std::string(12, 'a')).ok());
  ASSERT_TRUE(
      writer.AddTensor("b", GgmlType::kF32, {1}, std::string(4, 'b')).ok());
  std::string bytes;
  auto file = RoundTrip(writer, &bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->alignment(), 256u);
  EXPECT_EQ((*file)->FindTensor("b")->offset, 256u);
  EXPECT_EQ(((*file)->FindTensor("a")->data - (*file)->bytes().data()) % 256,
            0);
}

TEST(GgufTest, WriterRejectsBadTensors) {
  GgufWriter writer;
  const std::string four(4, 'x');
  EXPECT_TRUE(writer.AddTensor("t", GgmlType::kF32, {1}, four).ok());
  EXPECT_FALSE(writer.AddTensor("t", GgmlType::kF32, {1}, four).ok());
  EXPECT_FALSE(writer.AddTensor("", GgmlType::kF32, {1}, four).ok());
  EXPECT_FALSE(writer.AddTensor("u", GgmlType::kF32, {2}, four).ok());
  EXPECT_FALSE(writer.AddTensor("u", GgmlType::kF32, {}, "").ok());
  EXPECT_FALSE(
      writer.AddTensor("u", GgmlType::kF32, {1, 1, 1, 1, 1}, four).ok());
  EXPECT_FALSE(writer.AddTensor("u", GgmlType::kF32, {0}, "").ok());
  EXPECT_FALSE(
      writer.AddTensor("u", GgmlType::kQ8_0, {16}, std::string(17, 0)).ok());
  EXPECT_FALSE(writer.AddTensor("u", static_cast<GgmlType>(5), {1}, four).ok());
  EXPECT_FALSE(writer
                   .AddTensor("u", GgmlType::kF32,
                              {int64_t{1} << 40, int64_t{1} << 40}, four)
                   .ok());
}

TEST(GgufTest, WriterRejectsInconsistentValues) {
  GgufWriter mixed;
  GgufValue array = GgufValue::I32Array({1});
  array.array.push_back(GgufValue::U32(2));
  mixed.SetValue("mixed", array);
  EXPECT_EQ(mixed.Serialize().status().code(),
            absl::StatusCode::kInvalidArgument);

  GgufWriter range;
  range.SetValue("u8", Make(GgufValueType::kUint8, uint64_t{256}));
  EXPECT_EQ(range.Serialize().status().code(),
            absl::StatusCode::kInvalidArgument);

  GgufWriter alignment;
  alignment.SetValue("general.alignment", GgufValue::U32(48));
  EXPECT_EQ(alignment.Serialize().status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GgufTest, SetValueReplacesInPlace) {
  GgufWriter writer;
  writer.SetValue("a", GgufValue::U32(1));
  writer.SetValue("b", GgufValue::U32(2));
  writer.SetValue("a", GgufValue::String("one"));
  std::string bytes;
  auto file = RoundTrip(writer, &bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().size(), 2u);
  EXPECT_EQ(*(*file)->GetString("a"), "one");
  // Insertion order is kept: "a" is written first.
  EXPECT_LT(bytes.find("one"), bytes.find('b', 24));
}

TEST(GgufTest, RewritingStories260KPreservesEverything) {
  TESSERA_REQUIRE_SHARED_FILE(StoriesPath());
  auto original = GgufFile::Open(StoriesPath());
  ASSERT_TRUE(original.ok()) << original.status();
  GgufWriter writer;
  writer.CopyMetadata(**original, "");
  for (const GgufTensorInfo& t : (*original)->tensors()) {
    ASSERT_TRUE(
        writer
            .AddTensor(
                t.name, t.type, t.dims,
                std::string(reinterpret_cast<const char*>(t.data), t.bytes))
            .ok());
  }
  std::string path = testing::TempDir() + "/stories-copy.gguf";
  ASSERT_TRUE(writer.WriteToFile(path).ok());
  auto copy = GgufFile::Open(path);
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_EQ((*copy)->metadata().size(), (*original)->metadata().size());
  for (const auto& [key, value] : (*original)->metadata()) {
    const GgufValue* got = (*copy)->Find(key);
    ASSERT_NE(got, nullptr) << key;
    ExpectSameValue(value, *got, key);
  }
  ASSERT_EQ((*copy)->tensors().size(), (*original)->tensors().size());
  for (const GgufTensorInfo& t : (*original)->tensors()) {
    const GgufTensorInfo* c = (*copy)->FindTensor(t.name);
    ASSERT_NE(c, nullptr) << t.name;
    EXPECT_EQ(c->dims, t.dims);
    EXPECT_EQ(std::memcmp(c->data, t.data, t.bytes), 0) << t.name;
  }
}

TEST(GgufTest, CopyMetadataFiltersByPrefix) {
  TESSERA_REQUIRE_SHARED_FILE(StoriesPath());
  auto original = GgufFile::Open(StoriesPath());
  ASSERT_TRUE(original.ok()) << original.status();
  GgufWriter writer;
  writer.CopyMetadata(**original, "tokenizer.");
  std::string bytes;
  auto copy = RoundTrip(writer, &bytes);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_NE((*copy)->Find("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ((*copy)->Find("general.architecture"), nullptr);
  for (const auto& [key, value] : (*copy)->metadata()) {
    EXPECT_EQ(key.rfind("tokenizer.", 0), 0u) << key;
  }
}

}  // namespace
}  // namespace tessera::model
