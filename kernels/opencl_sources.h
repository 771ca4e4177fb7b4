// The OpenCL C sources of kernels/opencl/*.cl, embedded into the binary at
// build time (kernels/CMakeLists.txt runs kernels/embed_opencl.cmake, which
// generates the definition of EmbeddedOpenClSources()).
//
// Thread-safe: the data is immutable static storage.
#ifndef TESSERA_KERNELS_OPENCL_SOURCES_H_
#define TESSERA_KERNELS_OPENCL_SOURCES_H_

#include <cstddef>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tessera::kernels {

struct EmbeddedSource {
  const char* name;  // file name, e.g. "matvec_q8_0.cl"
  const char* text;  // NUL-terminated source text
  size_t size;       // bytes, without the terminator
};

// Every embedded file, sorted by name.
absl::Span<const EmbeddedSource> EmbeddedOpenClSources();

// The file called `name`, or nullptr when there is none.
const EmbeddedSource* FindEmbeddedOpenClSource(absl::string_view name);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_SOURCES_H_
