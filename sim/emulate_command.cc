#include "sim/emulate_command.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/args.h"
#include "cli/sampling_flags.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "coordinator/local_cluster.h"
#include "sim/emulation.h"

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
}

void PrintEmulation(double host, const std::vector<WorkerEmulation>& plan) {
  std::cerr << "mode: loopback emulation\n"
            << absl::StrFormat("host: %.2f GB/s (f32 dot product)\n", host / 1e9);
  for (size_t i = 0; i < plan.size(); ++i) {
    const WorkerEmulation& w = plan[i];
    std::cerr << absl::StrFormat(
        "  w%d %-20s %6.2f GB/s  slowdown x%-8.2f budget %5.2f GiB  link %s\n",
        i + 1, w.device, w.device_bytes_per_s / 1e9, w.slowdown,
        w.memory_budget_bytes / double(1 << 30), w.link.empty() ? "-" : w.link);
  }
}

// Measures this host, plans the emulation and starts the processes.
absl::StatusOr<std::unique_ptr<coordinator::LocalCluster>> StartEmulated(
    const cli::ArgParser& args) {
  TESSERA_ASSIGN_OR_RETURN(SimCluster cluster,
                           LoadSimCluster(args.GetString("cluster")));
  const double host = MeasureHostBytesPerSecond();
  TESSERA_ASSIGN_OR_RETURN(std::vector<WorkerEmulation> plan,
                           PlanEmulation(cluster, host));
  PrintEmulation(host, plan);
  coordinator::LocalClusterOptions o;
  for (const WorkerEmulation& w : plan) o.per_worker_flags.push_back(w.Flags());
  const std::string model = fs::absolute(args.GetString("model")).string();
  std::string work = args.GetString("work-dir");
  if (work.empty()) {
    work = absl::StrCat(fs::temp_directory_path().string(), "/tessera-sim-",
                        getpid());
  }
  fs::create_directories(work);
  o.bin_dir = BinDir();
  o.work_dir = work;
  o.model_path = model;
  o.model_dir = fs::path(model).parent_path().string();
  o.workers = static_cast<int>(plan.size());
  o.backend = args.GetString("backend");
  o.planner = "even";
  std::cerr << "logs: " << work << "\n";
  return coordinator::LocalCluster::Start(o);
}

int Fail(const absl::Status& status) {
  std::cerr << "tessera-sim: " << status.message() << "\n";
  return 1;
}

}  // namespace

int UpMain(const std::vector<std::string>& argv) {
  cli::ArgParser args("tessera-sim up --cluster FILE --model GGUF [--state F]");
  DeclareClusterFlags(args);
  args.String("state", DefaultStateFile(), "state file for `down`");
  int code = 0;
  if (!ParseOrExit(args, argv, code)) return code;
  auto cluster = StartEmulated(args);
  if (!cluster.ok()) return Fail(cluster.status());
  std::string state = absl::StrCat("coordinator ",
                                   (*cluster)->coordinator_address(), "\n");
  for (pid_t pid : (*cluster)->Detach()) absl::StrAppend(&state, "pid ", pid, "\n");
  absl::Status written = WriteStringToFile(args.GetString("state"), state);
  if (!written.ok()) return Fail(written);
  std::cout << (*cluster)->coordinator_address() << "\n";
  std::cerr << "state: " << args.GetString("state") << "\n";
  return 0;
}

int DownMain(const std::vector<std::string>& argv) {
  cli::ArgParser args("tessera-sim down [--state F]");
  args.String("state", DefaultStateFile(), "state file written by `up`");
  int code = 0;
  if (!ParseOrExit(args, argv, code)) return code;
  absl::StatusOr<std::string> state = ReadFileToString(args.GetString("state"));
  if (!state.ok()) return Fail(state.status());
  int stopped = 0;
  for (absl::string_view line : absl::StrSplit(*state, '\n')) {
    int pid = 0;
    if (absl::ConsumePrefix(&line, "pid ") && absl::SimpleAtoi(line, &pid) &&
        pid > 1 && kill(pid, SIGKILL) == 0) {
      ++stopped;
    }
  }
  std::remove(args.GetString("state").c_str());
  std::cerr << "stopped " << stopped << " processes\n";
  return 0;
}

int RunMain(const std::vector<std::string>& argv) {
  // Sampling flags, and flags after "--", go to `tessera generate`.
  cli::ArgParser args(
      "tessera-sim run --cluster FILE --model GGUF --prompt P [-n N] "
      "[--temp T ...] [-- more tessera generate flags]");
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
  auto cluster = StartEmulated(args);
  if (!cluster.ok()) return Fail(cluster.status());
  std::vector<std::string> cmd = {
      BinDir() + "/tessera", "generate", "--coordinator",
      (*cluster)->coordinator_address(), "--prompt", args.GetString("prompt"),
      "-n", absl::StrCat(args.GetInt("n"))};
  for (const char* flag : {"temp", "top-p", "min-p", "repeat-penalty"}) {
    cmd.insert(cmd.end(), {absl::StrCat("--", flag),
                           absl::StrCat(args.GetFloat(flag))});
  }
  for (const char* flag : {"seed", "top-k", "repeat-last-n"}) {
    cmd.insert(cmd.end(), {absl::StrCat("--", flag),
                           absl::StrCat(args.GetInt(flag))});
  }
  cmd.insert(cmd.end(), theirs.begin(), theirs.end());
  std::vector<char*> c_args;
  for (std::string& a : cmd) c_args.push_back(a.data());
  c_args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, c_args[0], nullptr, nullptr, c_args.data(), environ) != 0) {
    return Fail(absl::InternalError("cannot start " + cmd[0]));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace tessera::sim
