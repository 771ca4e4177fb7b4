// Runs the project's binaries from tests and captures what they print.
#ifndef TESSERA_TESTS_TOOL_RUNNER_H_
#define TESSERA_TESTS_TOOL_RUNNER_H_

#include <string>
#include <vector>

namespace tessera::testing {

struct ToolResult {
  int exit_code = -1;  // -1 if the process could not be started or was killed
  std::string out;     // stdout
  std::string err;     // stderr
};

// Path of a built binary, e.g. BinPath("tessera").
std::string BinPath(const std::string& name);

// Runs `argv` (argv[0] is a path) to completion, capturing stdout and stderr.
ToolResult RunTool(const std::vector<std::string>& argv);

}  // namespace tessera::testing

#endif  // TESSERA_TESTS_TOOL_RUNNER_H_
