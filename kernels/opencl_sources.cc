#include "kernels/opencl_sources.h"

namespace tessera::kernels {

const EmbeddedSource* FindEmbeddedOpenClSource(absl::string_view name) {
  for (const EmbeddedSource& source : EmbeddedOpenClSources()) {
    if (name == source.name) return &source;
  }
  return nullptr;
}

}  // namespace tessera::kernels
