// End-to-end tests of the `tessera` tool: golden generation through the
// command line, tokenize, make-model round trips and error handling.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/golden.h"
#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "model/gguf.h"
#include "model/model_file.h"
#include "tests/tool_runner.h"

namespace tessera {
namespace {

using testing::BinPath;
using testing::RunTool;
using testing::ToolResult;

// One line, no trailing newline (for error messages).
bool IsOneLine(const std::string& s) {
  return !s.empty() && s.find('\n') == s.size() - 1;
}

class CliGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CliGoldenTest, GreedyRunPrintsGoldenContinuation) {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
  auto cases = testing::LoadGoldenCases(testing::StoriesGoldenPath());
  ASSERT_TRUE(cases.ok()) << cases.status();
  for (const testing::GoldenCase& golden : *cases) {
    ToolResult r = RunTool({BinPath("tessera"), "run", "--model",
                            testing::StoriesModelPath(), "--prompt",
                            golden.prompt, "-n",
                            absl::StrCat(golden.new_tokens), "--temp", "0",
                            "--backend", GetParam()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, golden.continuation + "\n") << golden.prompt;
    EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CliGoldenTest,
                         ::testing::Values("reference", "cpu", "opencl"));

TEST(CliTest, SeededSamplingIsReproducible) {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
  std::vector<std::string> argv = {
      BinPath("tessera"), "run", "--model", testing::StoriesModelPath(),
      "--prompt", "The cat", "-n", "30", "--temp", "0.9", "--top-k", "40",
      "--top-p", "0.95", "--seed", "123"};
  ToolResult a = RunTool(argv);
  ToolResult b = RunTool(argv);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_GT(a.out.size(), 10u);
}

TEST(CliTest, TokenizePrintsJsonIds) {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
  ToolResult r = RunTool({BinPath("tessera"), "tokenize", "--model",
                          testing::StoriesModelPath(), "--text",
                          "Once upon a time", "--bos"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[1, 403, 407, 261, 378]\n");
}

TEST(CliTest, MissingModelIsOneClearLine) {
  ToolResult r = RunTool({BinPath("tessera"), "run", "--model",
                          "/nonexistent/model.gguf", "--prompt", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(IsOneLine(r.err)) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos);
  EXPECT_EQ(r.out, "");
}

TEST(CliTest, BadFlagsAreUsageErrors) {
  ToolResult unknown = RunTool({BinPath("tessera"), "run", "--modle", "x"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("--modle"), std::string::npos);
  ToolResult not_int = RunTool(
      {BinPath("tessera"), "run", "--model", "m", "--prompt", "p", "-n", "ten"});
  EXPECT_EQ(not_int.exit_code, 2);
  EXPECT_TRUE(IsOneLine(not_int.err)) << not_int.err;
  ToolResult missing = RunTool({BinPath("tessera"), "run", "--prompt", "p"});
  EXPECT_EQ(missing.exit_code, 2);
  ToolResult command = RunTool({BinPath("tessera"), "frobnicate"});
  EXPECT_EQ(command.exit_code, 2);
  ToolResult kv = RunTool({BinPath("tessera-worker"), "--model-dir", "/tmp",
                           "--kv-type", "q4_0"});
  EXPECT_EQ(kv.exit_code, 2);
  EXPECT_NE(kv.err.find("expected f32 or f16"), std::string::npos) << kv.err;
  ToolResult kv_backend =
      RunTool({BinPath("tessera-worker"), "--model-dir", "/tmp", "--kv-type",
               "f16", "--backend", "reference"});
  EXPECT_EQ(kv_backend.exit_code, 2);
  EXPECT_NE(kv_backend.err.find("needs the cpu backend"), std::string::npos)
      << kv_backend.err;
}

TEST(CliTest, BadSamplingValuesAreRejected) {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
  ToolResult r = RunTool({BinPath("tessera"), "run", "--model",
                          testing::StoriesModelPath(), "--prompt", "x",
                          "--top-p", "1.5"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("top-p"), std::string::npos) << r.err;
}

TEST(CliTest, PromptLongerThanContextIsRejected) {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
  std::string prompt;
  for (int i = 0; i < 600; ++i) prompt += "Once upon a time ";
  ToolResult r = RunTool({BinPath("tessera"), "run", "--model",
                          testing::StoriesModelPath(), "--prompt", prompt,
                          "--backend", "reference"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(IsOneLine(r.err)) << r.err;
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
}

// `tessera bench` on a tiny shape: every figure the issue names is printed
// under its own key, and the fractions follow from the other figures.
TEST(CliTest, BenchPrintsEveryFigureAsJson) {
  ToolResult r = RunTool({BinPath("tessera"), "bench", "--shape",
                          "stories260k", "--bandwidth-mb", "16",
                          "--prompt-tokens", "8", "--decode-tokens", "4",
                          "--decode-rounds", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* key :
       {"\"memory_bandwidth_gbps\"", "\"q8_0\": {", "\"q4_0\": {",
        "\"decode_tok_s\"", "\"decode_bandwidth_gbps\"",
        "\"decode_roofline_fraction\"", "\"decode_fraction_of_best_bandwidth\"",
        "\"prefill_tok_s\"", "\"weights_huge_page_fraction\""}) {
    EXPECT_NE(r.out.find(key), std::string::npos) << key << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("nan"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("inf"), std::string::npos) << r.out;
  ToolResult bad = RunTool({BinPath("tessera"), "bench", "--decode-rounds", "0"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;  // a usage error
  EXPECT_NE(bad.err.find("--decode-rounds"), std::string::npos) << bad.err;
}

// --compare: a second backend timed in the same rounds, and the ratio.
TEST(CliTest, BenchComparesTwoBackendsInTheSameRounds) {
  ToolResult r = RunTool(
      {BinPath("tessera"), "bench", "--shape", "stories260k", "--bandwidth-mb",
       "16", "--prompt-tokens", "8", "--decode-tokens", "4", "--decode-rounds",
       "3", "--formats", "q8_0", "--compare", "cpu:scalar", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* key :
       {"\"compare_backend\": \"cpu:scalar\"", "\"compare_decode_tok_s\"",
        "\"compare_prefill_tok_s\"", "\"decode_ratio\""}) {
    EXPECT_NE(r.out.find(key), std::string::npos) << key << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("nan"), std::string::npos) << r.out;
  // Rounds alternate: three of each backend, labelled.
  EXPECT_NE(r.err.find("round 3 [cpu:scalar]"), std::string::npos) << r.err;
  ToolResult bad = RunTool({BinPath("tessera"), "bench", "--shape",
                            "stories260k", "--compare", "gpu"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("unknown backend 'gpu'"), std::string::npos)
      << bad.err;
}

// Every benchmark shape: make-model writes it (one layer, to stay small),
// it loads back with the exact tensor shapes, and it generates.
class MakeModelShapeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MakeModelShapeTest, WritesLoadsAndGenerates) {
  const std::string vocab = testing::SharedPath("vocab/ggml-vocab-llama-spm.gguf");
  TESSERA_REQUIRE_SHARED_FILE(vocab);
  const std::string path =
      absl::StrCat(testing::TempDir(), "/", GetParam(), ".gguf");
  ToolResult made = RunTool({BinPath("tessera"), "make-model", "--shape",
                             GetParam(), "--vocab-from", vocab, "--type",
                             "q4_0", "--seed", "3", "--layers", "1", "-o",
                             path});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto file = model::ModelFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->config.n_layers, 1);
  EXPECT_EQ((*file)->config.vocab_size, 32000);
  ToolResult run = RunTool({BinPath("tessera"), "run", "--model", path,
                            "--prompt", "Hello world", "-n", "4",
                            "--format", "q4_0"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(run.out.empty());
}

INSTANTIATE_TEST_SUITE_P(Shapes, MakeModelShapeTest,
                         ::testing::Values("tinyllama-1.1b", "smollm2-135m",
                                           "qwen2.5-0.5b", "llama-3.2-1b",
                                           "llama-3-8b"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace tessera
