// `tessera`: the user-facing tool. Dispatches to the registered subcommands
// (cli/*_command.cc).
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "cli/command.h"

namespace tessera::cli {

std::map<std::string, Command>& Commands() {
  static auto* commands = new std::map<std::string, Command>();
  return *commands;
}

namespace {

void PrintUsage(std::ostream& out) {
  out << "usage: tessera <command> [flags]   (tessera <command> --help)\n\n"
         "commands:\n";
  for (const auto& [name, command] : Commands()) {
    out << absl::StrFormat("  %-14s %s\n", name, command.help);
  }
}

}  // namespace
}  // namespace tessera::cli

int main(int argc, char** argv) {
  using tessera::cli::Commands;
  if (argc < 2) {
    tessera::cli::PrintUsage(std::cerr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    tessera::cli::PrintUsage(std::cout);
    return 0;
  }
  auto it = Commands().find(name);
  if (it == Commands().end()) {
    std::cerr << "tessera: unknown command '" << name << "'\n";
    tessera::cli::PrintUsage(std::cerr);
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  return it->second.fn(args);
}
