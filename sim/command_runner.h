// Running system tools (ip, tc) for the emulator: argv only, never a shell.
//
// CommandRunner is the seam the network set-up goes through, so tests can
// record command lines with a fake instead of changing the host's network.
//
// Thread-safety: RunCommand is thread-safe (it keeps no state).
#ifndef TESSERA_SIM_COMMAND_RUNNER_H_
#define TESSERA_SIM_COMMAND_RUNNER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::sim {

// Runs argv and returns what it printed on stdout, or an error.
using CommandRunner = std::function<absl::StatusOr<std::string>(
    const std::vector<std::string>& argv)>;

// Runs argv[0] (an absolute path) with posix_spawn, stdin from /dev/null,
// and waits for it. Returns its stdout when it exits with 0. Otherwise
// Internal "`ARGV...` exited with N: STDERR" (or "was killed by signal N",
// or "cannot start: ..."); InvalidArgument for an empty argv.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv);

// argv joined with spaces (for messages and logs).
std::string CommandLine(const std::vector<std::string>& argv);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_COMMAND_RUNNER_H_
