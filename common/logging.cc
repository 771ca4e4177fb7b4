#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace tessera::logging {
namespace {

int InitialMinSeverity() {
  const char* env = std::getenv("TESSERA_MIN_LOG_LEVEL");
  if (env == nullptr || env[0] < '0' || env[0] > '3') return 0;
  return env[0] - '0';
}

std::atomic<int>& MinSeverityStorage() {
  static std::atomic<int> level{InitialMinSeverity()};
  return level;
}

const char* SeverityLetter(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "I";
    case Severity::kWarning:
      return "W";
    case Severity::kError:
      return "E";
    case Severity::kFatal:
      return "F";
  }
  return "?";
}

const char* Basename(const char* path) {
  const char* base = path;
  for (const char* p = path; *p != '\0'; ++p) {
    if (*p == '/') base = p + 1;
  }
  return base;
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
  const std::string line = std::string(SeverityLetter(severity_)) +
                           LogTimestamp() + Basename(file_) + ":" +
                           std::to_string(line_) + "] " + stream_.str() + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (severity_ == Severity::kFatal) std::abort();
}

}  // namespace tessera::logging
