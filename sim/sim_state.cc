#include "sim/sim_state.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tessera::sim {
namespace {

bool IsSafeName(absl::string_view name) {
  if (name.empty() || name.size() > 15 || !absl::ascii_isalnum(name[0])) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string FormatSimState(const SimState& state) {
  std::string text =
      absl::StrCat("coordinator ", state.coordinator_address, "\n");
  for (pid_t pid : state.pids) absl::StrAppend(&text, "pid ", pid, "\n");
  for (const std::string& ns : state.network.netns) {
    absl::StrAppend(&text, "netns ", ns, "\n");
  }
  for (const std::string& veth : state.network.veths) {
    absl::StrAppend(&text, "veth ", veth, "\n");
  }
  if (!state.network.bridge.empty()) {
    absl::StrAppend(&text, "bridge ", state.network.bridge, "\n");
  }
  return text;
}

absl::StatusOr<SimState> ParseSimState(absl::string_view text) {
  SimState state;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (line.empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    const absl::string_view key = kv.first, value = kv.second;
    int pid = 0;
    bool ok = true;
    if (key == "coordinator") {
      state.coordinator_address = std::string(value);
    } else if (key == "pid") {
      ok = absl::SimpleAtoi(value, &pid) && pid > 1;
      if (ok) state.pids.push_back(pid);
    } else if (key == "netns" || key == "veth" || key == "bridge") {
      ok = IsSafeName(value);
      if (ok && key == "netns") state.network.netns.emplace_back(value);
      if (ok && key == "veth") state.network.veths.emplace_back(value);
      if (ok && key == "bridge") state.network.bridge = std::string(value);
    } else {
      ok = false;
    }
    if (!ok) {
      return absl::DataLossError(
          absl::StrCat("state file line ", number, ": bad entry '", line, "'"));
    }
  }
  return state;
}

}  // namespace tessera::sim
