// libFuzzer target for the GGUF reader (built with -DTESSERA_BUILD_FUZZERS=ON
// and clang). Any input must give a status or a file whose promises hold:
// every tensor's bytes lie inside the input and match its shape and type.
//
//   build-fuzz/bin/gguf_fuzzer -max_total_time=60 corpus/
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "model/gguf.h"

namespace {

void CheckOrDie(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tessera::model::GgufFile;
  auto file = GgufFile::FromBuffer(absl::MakeConstSpan(data, size));
  if (!file.ok()) return 0;
  const uint8_t* end = data + size;
  for (const auto& tensor : (*file)->tensors()) {
    CheckOrDie(tensor.data >= data && tensor.bytes >= 0 &&
               tensor.bytes <= end - tensor.data);
    int64_t rows = 1;
    for (size_t i = 1; i < tensor.dims.size(); ++i) rows *= tensor.dims[i];
    auto row_bytes = tessera::model::RowBytes(tensor.type, tensor.dims[0]);
    CheckOrDie(row_bytes.ok() && *row_bytes * rows == tensor.bytes);
    // Touch the first and last byte so ASan checks the range.
    if (tensor.bytes > 0) {
      volatile uint8_t sink = tensor.data[0] ^ tensor.data[tensor.bytes - 1];
      (void)sink;
    }
  }
  for (const auto& [key, value] : (*file)->metadata()) {
    (void)(*file)->GetInt(key);
    (void)(*file)->GetStringArray(key);
  }
  return 0;
}
