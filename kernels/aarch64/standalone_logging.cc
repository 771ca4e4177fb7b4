// The log-line timestamp for the standalone AArch64 conformance binary
// (neon_conformance_main.cc), which links common/logging.cc but not
// Abseil's time library (only Abseil's headers are available for AArch64
// here): its log lines carry no timestamp. The kernels it links reach
// logging only through CHECK.
#include <string>

#include "common/logging.h"

namespace tessera::logging {

std::string LogTimestamp() { return ""; }

}  // namespace tessera::logging
