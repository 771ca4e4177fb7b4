#include "sim/emulate_command.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/args.h"
#include "cli/sampling_flags.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "sim/emulated_cluster.h"
#include "sim/plan_report.h"
#include "sim/sim_state.h"

extern char** environ;

namespace tessera::sim {
namespace {

namespace fs = std::filesystem;

std::string BinDir() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).parent_path().string();
}

std::string DefaultStateFile() {
  const char* tmp = std::getenv("TMPDIR");
  return absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp", "/tessera-sim-",
                      getuid(), ".state");
}

void DeclareClusterFlags(cli::ArgParser& args) {
  args.String("cluster", "", "cluster textproto (configs/clusters/)")
      .Required("cluster");
  args.String("model", "", "GGUF model").Required("model");
  args.String("backend", "cpu", "worker backend");
  args.String("work-dir", "", "logs and port files (default: a temp dir)");
  args.String("planner", "partitioner",
              "the coordinator's planner: partitioner (from the workers' "
              "emulated profiles and measured links) | even");
  args.String("network", "auto",
              "auto | netns (namespaces + tc; root) | loopback "
              "(auto: netns when root and `ip netns` works)");
}

void PrintEmulation(const EmulatedCluster& cluster) {
  std::cerr << "mode: " << cluster.mode() << "\n"
            << absl::StrFormat("host: %.2f GB/s (f32 dot product)\n",
                               cluster.host_bytes_per_s() / 1e9);
  const NetnsLayout* netns = cluster.netns_layout();
  for (size_t i = 0; i < cluster.workers().size(); ++i) {
    const WorkerEmulation& w = cluster.workers()[i];
    std::cerr << absl::StrFormat(
        "  w%d %-20s %6.2f GB/s  slowdown x%-8.2f budget %5.2f GiB  link %s%s\n",
        i + 1, w.device, w.device_bytes_per_s / 1e9, w.slowdown,
        w.memory_budget_bytes / double(1 << 30), w.link.empty() ? "-" : w.link,
        netns == nullptr
            ? ""
            : absl::StrCat("  netns ", netns->workers[i].netns, " ",
                           netns->workers[i].address));
  }
}

// Resolves the flags, starts the cluster and prints the mode and the plan.
absl::StatusOr<std::unique_ptr<EmulatedCluster>> StartEmulated(
    const cli::ArgParser& args) {
  EmulatedClusterOptions o;
  TESSERA_ASSIGN_OR_RETURN(o.cluster, LoadSimCluster(args.GetString("cluster")));
  TESSERA_ASSIGN_OR_RETURN(NetworkChoice network,
                           ChooseNetworkMode(args.GetString("network"), o.run));
  if (!network.fallback_reason.empty()) {
    std::cerr << "network namespaces unusable (" << network.fallback_reason
              << "): loopback\n";
  }
  o.network = network.mode;
  o.planner = args.GetString("planner");
  if (o.planner != "partitioner" && o.planner != "even") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--planner must be partitioner or even, not '", o.planner, "'"));
  }
  o.model_path = fs::absolute(args.GetString("model")).string();
  o.work_dir = args.GetString("work-dir");
  if (o.work_dir.empty()) {
    o.work_dir = absl::StrCat(fs::temp_directory_path().string(),
                              "/tessera-sim-", getpid());
  }
  fs::create_directories(o.work_dir);
  o.bin_dir = BinDir();
  o.backend = args.GetString("backend");
  std::cerr << "logs: " << o.work_dir << "\n";
  const absl::Time start = absl::Now();
  TESSERA_ASSIGN_OR_RETURN(auto cluster, EmulatedCluster::Start(o));
  PrintEmulation(*cluster);
  TESSERA_ASSIGN_OR_RETURN(
      v1::ClusterStatusResponse status,
      FetchClusterStatus(cluster->processes().coordinator_address()));
  std::cerr << FormatPlan(status, cluster->device_names())
            << absl::StrFormat("cluster up in %.1f s\n",
                               absl::ToDoubleSeconds(absl::Now() - start));
  return cluster;
}

int Fail(const absl::Status& status) {
  std::cerr << "tessera-sim: " << status.message() << "\n";
  return 1;
}

// Waits up to `timeout` for `pids` (not our children) to be gone.
void AwaitExit(const std::vector<pid_t>& pids, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (pid_t pid : pids) {
    while (kill(pid, 0) == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
}

volatile sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) { g_interrupted = 1; }

// SIGINT, SIGTERM and SIGHUP only set g_interrupted (no SA_RESTART, so
// waitpid returns early): `run` then stops what it started and removes
// the network on the way out instead of dying with it set up.
void CatchInterrupts() {
  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    sigaction(signal, &action, nullptr);
  }
}

// Runs `cmd` (argv[0] absolute) and returns its exit code; forwards an
// interrupt to it.
int RunChild(std::vector<std::string> cmd) {
  std::vector<char*> c_args;
  for (std::string& a : cmd) c_args.push_back(a.data());
  c_args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, c_args[0], nullptr, nullptr, c_args.data(), environ) != 0) {
    return Fail(absl::InternalError("cannot start " + cmd[0]));
  }
  int status = 0;
  bool forwarded = false;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 1;
    if (g_interrupted && !forwarded) {
      kill(pid, SIGTERM);
      forwarded = true;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int UpMain(const std::vector<std::string>& argv) {
  cli::ArgParser args(
      "tessera-sim up --cluster FILE --model GGUF [--planner P] "
      "[--network N] [--state F]");
  DeclareClusterFlags(args);
  args.String("state", DefaultStateFile(), "state file for `down`");
  int code = 0;
  if (!ParseOrExit(args, argv, code)) return code;
  auto cluster = StartEmulated(args);
  if (!cluster.ok()) return Fail(cluster.status());
  // Written before detaching: if it cannot be, the cluster goes away.
  const std::string& state_file = args.GetString("state");
  absl::Status written = WriteStringToFile(state_file, "");
  if (!written.ok()) return Fail(written);
  const SimState state = (*cluster)->Detach();
  written = WriteStringToFile(state_file, FormatSimState(state));
  if (!written.ok()) return Fail(written);
  std::cout << state.coordinator_address << "\n";
  std::cerr << "state: " << state_file << "\n";
  return 0;
}

int DownMain(const std::vector<std::string>& argv) {
  cli::ArgParser args("tessera-sim down [--state F]");
  args.String("state", DefaultStateFile(), "state file written by `up`");
  int code = 0;
  if (!ParseOrExit(args, argv, code)) return code;
  absl::StatusOr<std::string> text = ReadFileToString(args.GetString("state"));
  if (!text.ok()) return Fail(text.status());
  absl::StatusOr<SimState> state = ParseSimState(*text);
  if (!state.ok()) return Fail(state.status());
  int stopped = 0;
  for (pid_t pid : state->pids) stopped += kill(pid, SIGKILL) == 0;
  AwaitExit(state->pids, absl::Seconds(5));
  absl::Status removed = RemoveNetns(state->network, RunCommand);
  std::remove(args.GetString("state").c_str());
  std::cerr << "stopped " << stopped << " processes";
  if (!state->network.empty()) {
    std::cerr << ", removed " << state->network.netns.size()
              << " network namespaces and the bridge "
              << state->network.bridge;
  }
  std::cerr << "\n";
  return removed.ok() ? 0 : Fail(removed);
}

int RunMain(const std::vector<std::string>& argv) {
  // Sampling flags, and flags after "--", go to `tessera generate`.
  cli::ArgParser args(
      "tessera-sim run --cluster FILE --model GGUF --prompt P [-n N] "
      "[--planner P] [--network N] [--temp T ...] "
      "[-- more tessera generate flags]");
  DeclareClusterFlags(args);
  args.String("prompt", "", "prompt").Required("prompt");
  args.Int("n", 128, "tokens to generate", "n");
  cli::DeclareSamplingFlags(args);
  std::vector<std::string> ours = argv, theirs;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] != "--") continue;
    ours.assign(argv.begin(), argv.begin() + i);
    theirs.assign(argv.begin() + i + 1, argv.end());
    break;
  }
  int code = 0;
  if (!ParseOrExit(args, ours, code)) return code;
  CatchInterrupts();
  auto cluster = StartEmulated(args);
  if (!cluster.ok()) return Fail(cluster.status());
  if (g_interrupted) return Fail(absl::CancelledError("interrupted"));
  std::vector<std::string> cmd = {
      BinDir() + "/tessera", "generate", "--coordinator",
      (*cluster)->processes().coordinator_address(), "--prompt",
      args.GetString("prompt"), "-n", absl::StrCat(args.GetInt("n"))};
  for (const char* flag : {"temp", "top-p", "min-p", "repeat-penalty"}) {
    cmd.insert(cmd.end(), {absl::StrCat("--", flag),
                           absl::StrCat(args.GetFloat(flag))});
  }
  for (const char* flag : {"seed", "top-k", "repeat-last-n"}) {
    cmd.insert(cmd.end(), {absl::StrCat("--", flag),
                           absl::StrCat(args.GetInt(flag))});
  }
  cmd.insert(cmd.end(), theirs.begin(), theirs.end());
  return RunChild(std::move(cmd));
}

}  // namespace tessera::sim
