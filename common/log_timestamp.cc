#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace tessera::logging {

std::string LogTimestamp() {
  return absl::FormatTime("%m%d %H:%M:%E3S ", absl::Now(),
                          absl::LocalTimeZone());
}

}  // namespace tessera::logging
