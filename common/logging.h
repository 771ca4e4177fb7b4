// A thin logging layer spelled like absl/log (absent from Debian's Abseil
// 20220623): LOG(INFO|WARNING|ERROR|FATAL) << ...; CHECK(cond) << ...;
// Messages go to stderr, one line each, prefixed with level, time, file:line.
// CHECK is for programmer bugs only, never for data from files or peers.
// Thread-safe: each message is written with a single write(2).
#ifndef TESSERA_COMMON_LOGGING_H_
#define TESSERA_COMMON_LOGGING_H_

#include <sstream>
#include <string>

namespace tessera::logging {

enum class Severity { kInfo = 0, kWarning = 1, kError = 2, kFatal = 3 };

// Messages below this severity are dropped. Default: kInfo, or the value of the
// TESSERA_MIN_LOG_LEVEL environment variable (0-3) read at first use.
Severity MinSeverity();
void SetMinSeverity(Severity severity);

// Accumulates one message and emits it on destruction; aborts for kFatal.
class LogMessage {
 public:
  LogMessage(const char* file, int line, Severity severity);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  const char* file_;
  int line_;
  Severity severity_;
  std::ostringstream stream_;
};

// The "MMDD HH:MM:SS.mmm " that starts each log line (log_timestamp.cc;
// a separate file so that a build without Abseil's time library can supply
// its own).
std::string LogTimestamp();

// Swallows a stream expression when a message is disabled.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace tessera::logging

#define TESSERA_LOG_SEVERITY_INFO ::tessera::logging::Severity::kInfo
#define TESSERA_LOG_SEVERITY_WARNING ::tessera::logging::Severity::kWarning
#define TESSERA_LOG_SEVERITY_ERROR ::tessera::logging::Severity::kError
#define TESSERA_LOG_SEVERITY_FATAL ::tessera::logging::Severity::kFatal

#define LOG(level)                                                       \
  !(TESSERA_LOG_SEVERITY_##level >= ::tessera::logging::MinSeverity())   \
      ? (void)0                                                          \
      : ::tessera::logging::Voidify() &                                  \
            ::tessera::logging::LogMessage(__FILE__, __LINE__,           \
                                           TESSERA_LOG_SEVERITY_##level) \
                .stream()

#define CHECK(cond)                                                          \
  (cond) ? (void)0                                                           \
         : ::tessera::logging::Voidify() &                                   \
               ::tessera::logging::LogMessage(                               \
                   __FILE__, __LINE__, ::tessera::logging::Severity::kFatal) \
                       .stream()                                             \
                   << "Check failed: " #cond " "

#define CHECK_EQ(a, b) CHECK((a) == (b))
#define CHECK_NE(a, b) CHECK((a) != (b))
#define CHECK_LT(a, b) CHECK((a) < (b))
#define CHECK_LE(a, b) CHECK((a) <= (b))
#define CHECK_GT(a, b) CHECK((a) > (b))
#define CHECK_GE(a, b) CHECK((a) >= (b))

#endif  // TESSERA_COMMON_LOGGING_H_
