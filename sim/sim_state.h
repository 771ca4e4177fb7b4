// The state file of `tessera-sim up`, read by `tessera-sim down`: what to
// stop (process ids) and what to remove (network namespaces, veths, the
// bridge). One item per line:
//
//   coordinator 127.0.0.1:40123
//   pid 4711            (one line per process, the coordinator's last)
//   netns ts4700w1      (netns mode only; one per namespace)
//   veth ts4700h1       (root-namespace end of each veth)
//   bridge ts4700br
//
// Thread-safety: pure functions.
#ifndef TESSERA_SIM_SIM_STATE_H_
#define TESSERA_SIM_SIM_STATE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sim/netns.h"

namespace tessera::sim {

struct SimState {
  std::string coordinator_address;
  std::vector<pid_t> pids;
  NetnsResources network;  // empty in loopback mode
};

std::string FormatSimState(const SimState& state);

// DataLoss naming the line for anything FormatSimState does not write:
// unknown keys, pids <= 1, and interface or namespace names that are not
// 1-15 characters of [A-Za-z0-9_.-] starting with a letter or digit (they
// become arguments of `ip`).
absl::StatusOr<SimState> ParseSimState(absl::string_view text);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_SIM_STATE_H_
