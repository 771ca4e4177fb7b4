// Subcommands of the `tessera` tool. Each *_command.cc registers itself:
//
//   TESSERA_REGISTER_COMMAND(run, "generate text from a model", RunMain);
//
// where RunMain has signature int(const std::vector<std::string>& args) and
// receives the arguments after the subcommand name. A command prints its
// result on stdout, diagnostics on stderr, and returns the exit status
// (0 success, 1 runtime failure, 2 bad usage).
#ifndef TESSERA_CLI_COMMAND_H_
#define TESSERA_CLI_COMMAND_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tessera::cli {

using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
  std::string help;
  CommandFn fn;
};

// The registry, keyed by name. Filled during static initialisation.
std::map<std::string, Command>& Commands();

struct CommandRegistrar {
  CommandRegistrar(const char* name, const char* help, CommandFn fn) {
    Commands()[name] = Command{help, std::move(fn)};
  }
};

}  // namespace tessera::cli

#define TESSERA_REGISTER_COMMAND(name, help, fn) \
  static ::tessera::cli::CommandRegistrar tessera_command_##name(#name, help, fn)

// For names that are not identifiers ("make-model").
#define TESSERA_REGISTER_COMMAND_NAMED(ident, name, help, fn) \
  static ::tessera::cli::CommandRegistrar tessera_command_##ident(name, help, fn)

#endif  // TESSERA_CLI_COMMAND_H_
