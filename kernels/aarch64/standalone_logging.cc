// common/logging.h for the standalone AArch64 conformance binary
// (neon_conformance_main.cc): the same contract as common/logging.cc, minus
// the timestamp, so that the binary cross-compiles without Abseil's time and
// string libraries (only Abseil's headers are available for AArch64 here).
// The kernels it links reach logging only through CHECK.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "common/logging.h"

namespace tessera::logging {
namespace {

std::atomic<int>& MinSeverityStorage() {
  static std::atomic<int> level{[] {
    const char* env = std::getenv("TESSERA_MIN_LOG_LEVEL");
    return env == nullptr || env[0] < '0' || env[0] > '3' ? 0 : env[0] - '0';
  }()};
  return level;
}

}  // namespace

Severity MinSeverity() {
  return static_cast<Severity>(MinSeverityStorage().load());
}

void SetMinSeverity(Severity severity) {
  MinSeverityStorage().store(static_cast<int>(severity));
}

LogMessage::LogMessage(const char* file, int line, Severity severity)
    : file_(file), line_(line), severity_(severity) {}

LogMessage::~LogMessage() {
  static constexpr char kLetters[] = "IWEF";
  const std::string line =
      std::string(1, kLetters[static_cast<int>(severity_)]) + " " + file_ +
      ":" + std::to_string(line_) + "] " + stream_.str() + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (severity_ == Severity::kFatal) std::abort();
}

}  // namespace tessera::logging
