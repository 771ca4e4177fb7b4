// tessera-sim up | down | run: a cluster of the catalogue emulated on
// loopback (sim/emulation.h), one tessera-worker process per device plus a
// tessera-coordinator. `up` leaves it running and writes a state file that
// `down` reads to stop it; `run` starts one, generates (only the text on
// stdout) and stops it.
#ifndef TESSERA_SIM_EMULATE_COMMAND_H_
#define TESSERA_SIM_EMULATE_COMMAND_H_

#include <string>
#include <vector>

namespace tessera::sim {

int UpMain(const std::vector<std::string>& args);
int DownMain(const std::vector<std::string>& args);
int RunMain(const std::vector<std::string>& args);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_EMULATE_COMMAND_H_
