// tessera-sim: the cluster simulator.
//   tessera-sim des --cluster FILE --shape NAME [...]   discrete-event simulation
//   tessera-sim up|down|run --cluster FILE [...]         local emulated cluster
//       (loopback, or network namespaces + tc when root: sim/emulated_cluster.h)
#include <iostream>
#include <string>
#include <vector>

#include "sim/des_command.h"
#include "sim/emulate_command.h"

int main(int argc, char** argv) {
  const std::string usage =
      "usage: tessera-sim des --cluster FILE --shape NAME [--requests N] "
      "[--planner ours|even|memory|uniform|all] [--svg FILE]\n"
      "       tessera-sim up --cluster FILE --model GGUF [--planner "
      "partitioner|even] [--network auto|netns|loopback] [--state F]\n"
      "       tessera-sim down [--state F]\n"
      "       tessera-sim run --cluster FILE --model GGUF --prompt P [-n N] "
      "[--planner P] [--network N] [-- generate flags]\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << usage;
    return 0;
  }
  const std::vector<std::string> rest(argv + 2, argv + argc);
  if (command == "des") return tessera::sim::DesMain(rest);
  if (command == "up") return tessera::sim::UpMain(rest);
  if (command == "down") return tessera::sim::DownMain(rest);
  if (command == "run") return tessera::sim::RunMain(rest);
  std::cerr << "tessera-sim: unknown command '" << command << "'\n" << usage;
  return 2;
}
