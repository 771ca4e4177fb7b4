// ModelFile::Open and the reference model on copies of stories260K whose
// metadata was made hostile: sizes that must be refused before anything is
// allocated from them, and tokenizers that do not fit the embedding table.
#include "model/model_file.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/golden.h"
#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "model/gguf.h"
#include "model/reference_model.h"
#include "model/unicode.h"

namespace tessera::model {
namespace {

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
    auto file = GgufFile::Open(testing::StoriesModelPath());
    ASSERT_TRUE(file.ok()) << file.status();
    source_ = *std::move(file);
  }

  // stories260K with each key set to its value, written to a temporary
  // file.
  std::string CopyWith(std::vector<std::pair<std::string, GgufValue>> values) {
    GgufWriter w;
    w.CopyMetadata(*source_, "");
    for (auto& [key, value] : values) w.SetValue(key, std::move(value));
    for (const GgufTensorInfo& t : source_->tensors()) {
      EXPECT_TRUE(w.AddTensor(t.name, t.type, t.dims,
                              std::string(reinterpret_cast<const char*>(t.data),
                                          t.bytes))
                      .ok());
    }
    const std::string path =
        absl::StrCat(testing::TempDir(), "/hostile-", copies_++, ".gguf");
    EXPECT_TRUE(w.WriteToFile(path).ok());
    return path;
  }

  std::unique_ptr<GgufFile> source_;
  int copies_ = 0;
};

TEST_F(ModelFileTest, HugeContextLengthIsRefused) {
  // 2^59 + 1 tokens x 32 KV values wrapped to a one-token cache once.
  auto file = ModelFile::Open(
      CopyWith({{"llama.context_length", GgufValue::U64((1ULL << 59) + 1)}}));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(file.status().message(), "context_length"))
      << file.status();
}

TEST_F(ModelFileTest, ReferenceSessionsGrowWithTheirTokens) {
  auto file = ModelFile::Open(
      CopyWith({{"llama.context_length", GgufValue::U64(kMaxContextLength)}}));
  ASSERT_TRUE(file.ok()) << file.status();
  auto reference = ReferenceModel::Create((*file)->weights);
  ASSERT_TRUE(reference.ok()) << reference.status();
  // A session as long as the largest context allocates nothing up front.
  auto session = (*reference)->NewSession(kMaxContextLength);
  auto logits = session->Forward({1, 403, 407});
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(static_cast<int64_t>(logits->size()), (*file)->config.vocab_size);
}

TEST_F(ModelFileTest, BlockCountBeyondTheTensorsIsRefused) {
  auto file = ModelFile::Open(
      CopyWith({{"llama.block_count", GgufValue::U64(1ULL << 40)}}));
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(absl::StrContains(file.status().message(), "block_count"))
      << file.status();
}

TEST_F(ModelFileTest, TokenizerLargerThanTheEmbeddingIsRefused) {
  auto tokens = source_->GetStringArray("tokenizer.ggml.tokens");
  auto scores = source_->GetFloatArray("tokenizer.ggml.scores");
  auto types = source_->GetIntArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(tokens.ok() && scores.ok() && types.ok());
  std::vector<int32_t> type32(types->begin(), types->end());
  for (int i = 0; i < 8; ++i) {
    tokens->push_back(absl::StrCat("<extra", i, ">"));
    scores->push_back(0);
    type32.push_back(1);
  }
  auto file = ModelFile::Open(CopyWith(
      {{"tokenizer.ggml.tokens", GgufValue::StringArray(*tokens)},
       {"tokenizer.ggml.scores", GgufValue::F32Array(*scores)},
       {"tokenizer.ggml.token_type", GgufValue::I32Array(type32)}}));
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(absl::StrContains(file.status().message(), "tokenizer has 520"))
      << file.status();
}

TEST(Utf8CutPointTest, LooksBackOneCharacterAtMost) {
  EXPECT_EQ(Utf8CutPoint("abc\xC3\xA9z", 4), 3u);  // keeps é whole
  EXPECT_EQ(Utf8CutPoint("a\xE2\x82\xAC", 3), 1u);   // keeps € whole
  // Continuation bytes only: cut where asked, without scanning back.
  const std::string junk(1 << 20, '\x80');
  EXPECT_EQ(Utf8CutPoint(junk, 1000), 1000u);
}

}  // namespace
}  // namespace tessera::model
