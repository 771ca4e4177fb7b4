// Encoding and decoding throughput of the shared vocabularies on 1 MiB of
// mixed text (the tokenizer test texts repeated: words, numbers, runs of
// spaces, CJK, emoji). Vocabularies are read from $TESSERA_SHARED_DIR/vocab
// (default ../shared, i.e. run from the project root):
//
//   build/bin/tessera_model_benchmark --benchmark_filter=Tokenizer
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/mapped_file.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace tessera::model {
namespace {

constexpr size_t kTextBytes = size_t{1} << 20;
const char* const kVocabs[] = {"llama-spm", "gpt-2",  "starcoder",
                               "phi-3",     "falcon", "deepseek-coder"};

std::string VocabDir() {
  const char* dir = std::getenv("TESSERA_SHARED_DIR");
  return std::string(dir != nullptr ? dir : "../shared") + "/vocab/";
}

// The tokenizer of kVocabs[index] and the benchmark text, or an error.
struct Fixture {
  std::unique_ptr<Tokenizer> tokenizer;
  std::string text;
  std::string error;
};

Fixture Load(int64_t index) {
  Fixture fixture;
  const std::string path =
      VocabDir() + "ggml-vocab-" + kVocabs[index] + ".gguf";
  auto file = GgufFile::Open(path);
  auto texts = ReadFileToString(VocabDir() + "ggml-vocab-gpt-2.gguf.inp");
  if (!file.ok() || !texts.ok()) {
    fixture.error = "vocabulary files missing under " + VocabDir();
    return fixture;
  }
  auto tokenizer = Tokenizer::FromGguf(**file);
  if (!tokenizer.ok()) {
    fixture.error = std::string(tokenizer.status().message());
    return fixture;
  }
  fixture.tokenizer = std::move(*tokenizer);
  while (fixture.text.size() < kTextBytes) fixture.text += *texts;
  fixture.text.resize(kTextBytes);
  return fixture;
}

void BM_TokenizerEncode(benchmark::State& state) {
  const Fixture fixture = Load(state.range(0));
  if (!fixture.error.empty()) {
    state.SkipWithError(fixture.error.c_str());
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    const std::vector<int32_t> ids =
        fixture.tokenizer->Encode(fixture.text, false);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetLabel(kVocabs[state.range(0)]);
  state.SetBytesProcessed(state.iterations() * kTextBytes);
  state.counters["tokens"] = static_cast<double>(tokens);
}
BENCHMARK(BM_TokenizerEncode)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);

void BM_TokenizerDecode(benchmark::State& state) {
  const Fixture fixture = Load(state.range(0));
  if (!fixture.error.empty()) {
    state.SkipWithError(fixture.error.c_str());
    return;
  }
  const std::vector<int32_t> ids =
      fixture.tokenizer->Encode(fixture.text, false);
  for (auto _ : state) {
    benchmark::DoNotOptimize(fixture.tokenizer->Decode(ids));
  }
  state.SetLabel(kVocabs[state.range(0)]);
  state.SetItemsProcessed(state.iterations() * ids.size());
}
BENCHMARK(BM_TokenizerDecode)->DenseRange(0, 1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tessera::model
