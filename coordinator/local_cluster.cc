#include "coordinator/local_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"

extern char** environ;

namespace tessera::coordinator {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc =
      posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": ",
                                            strerror(rc)));
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, log_path));
}

ChildProcess::~ChildProcess() { Kill(); }

void ChildProcess::Signal(int signal) {
  if (!reaped_) kill(pid_, signal);
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

void ChildProcess::Kill() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
}

absl::StatusOr<std::string> WaitForFile(const std::string& path,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> contents = ReadFileToString(path);
    if (contents.ok() && !contents->empty()) return contents;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("timed out waiting for ", path));
}

std::string TailOfFile(const std::string& path, size_t bytes) {
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (!contents.ok()) return "";
  return contents->size() <= bytes ? *contents
                                   : contents->substr(contents->size() - bytes);
}

namespace {

// Waits for a process's port file; fails early when the process exits, and
// returns its log tail on failure.
absl::StatusOr<std::string> AwaitAddress(ChildProcess& process,
                                         const std::string& port_file,
                                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string why = "timed out";
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> contents = ReadFileToString(port_file);
    if (contents.ok() && !contents->empty()) return contents;
    if (!process.Running()) {
      why = "the process exited";
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::UnavailableError(
      absl::StrCat(why, " before writing ", port_file, "; log ",
                   process.log_path(), ":\n", TailOfFile(process.log_path())));
}

// Entry i of `v`, or `fallback` when absent or empty.
template <typename T>
T Entry(const std::vector<T>& v, int i, T fallback) {
  return static_cast<size_t>(i) < v.size() && !v[i].empty() ? v[i] : fallback;
}

// The command line of worker i (0-based), its port file at `base`.port.
std::vector<std::string> WorkerArgv(const LocalClusterOptions& o, int i,
                                    const std::string& base) {
  std::vector<std::string> argv =
      Entry(o.worker_command_prefixes, i, std::vector<std::string>());
  const std::string host =
      Entry(o.worker_listen_hosts, i, std::string("127.0.0.1"));
  argv.insert(
      argv.end(),
      {o.bin_dir + "/tessera-worker", "--listen", host + ":0", "--model-dir",
       o.model_dir, "--name",
       Entry(o.worker_names, i, absl::StrCat("w", i + 1)), "--backend",
       o.backend, "--threads", absl::StrCat(o.threads), "--port-file",
       base + ".port", "--profile-cache",
       absl::StrCat(o.work_dir, "/profile-w", i + 1, ".txt")});
  if (!o.token.empty()) argv.insert(argv.end(), {"--token", o.token});
  argv.insert(argv.end(), o.extra_worker_flags.begin(),
              o.extra_worker_flags.end());
  if (static_cast<size_t>(i) < o.per_worker_flags.size()) {
    argv.insert(argv.end(), o.per_worker_flags[i].begin(),
                o.per_worker_flags[i].end());
  }
  return argv;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(
    const LocalClusterOptions& o) {
  static std::atomic<int> counter{0};
  const std::string tag = absl::StrCat(getpid(), "-", counter.fetch_add(1));
  std::unique_ptr<LocalCluster> cluster(new LocalCluster());
  std::vector<std::string> port_files;
  for (int i = 0; i < o.workers; ++i) {
    const std::string base = absl::StrCat(o.work_dir, "/w", i + 1, "-", tag);
    TESSERA_ASSIGN_OR_RETURN(
        auto child, ChildProcess::Start(WorkerArgv(o, i, base), base + ".log"));
    cluster->workers_.push_back(std::move(child));
    port_files.push_back(base + ".port");
  }
  for (int i = 0; i < o.workers; ++i) {
    TESSERA_ASSIGN_OR_RETURN(
        std::string address,
        AwaitAddress(*cluster->workers_[i], port_files[i], o.start_timeout));
    cluster->worker_addrs_.push_back(address);
  }
  const std::string base = absl::StrCat(o.work_dir, "/coordinator-", tag);
  std::vector<std::string> argv = {
      o.bin_dir + "/tessera-coordinator", "--listen", "127.0.0.1:0",
      "--model", o.model_path, "--workers",
      absl::StrJoin(cluster->worker_addrs_, ","), "--codec", o.codec,
      "--zstd-level", absl::StrCat(o.zstd_level), "--planner", o.planner,
      "--port-file",
      base + ".port"};
  if (!o.token.empty()) argv.insert(argv.end(), {"--token", o.token});
  argv.insert(argv.end(), o.extra_coordinator_flags.begin(),
              o.extra_coordinator_flags.end());
  TESSERA_ASSIGN_OR_RETURN(cluster->coordinator_,
                           ChildProcess::Start(argv, base + ".log"));
  TESSERA_ASSIGN_OR_RETURN(
      cluster->coordinator_addr_,
      AwaitAddress(*cluster->coordinator_, base + ".port", o.start_timeout));
  return cluster;
}

std::vector<pid_t> LocalCluster::Detach() {
  std::vector<pid_t> pids;
  for (auto& worker : workers_) {
    worker->Detach();
    pids.push_back(worker->pid());
  }
  coordinator_->Detach();
  pids.push_back(coordinator_->pid());
  return pids;
}

}  // namespace tessera::coordinator
