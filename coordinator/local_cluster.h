// LocalCluster: worker and coordinator PROCESSES on loopback ports chosen at
// run time, for end-to-end tests and benchmarks. Each process writes its
// bound address to a port file, which Start() waits for. Processes are
// killed (SIGKILL) and reaped on destruction.
//
// A worker may run under a command prefix and listen on another host, e.g.
// `ip netns exec NS` and its namespace's address (sim/netns.h); the
// coordinator always listens on loopback and must be able to reach every
// worker's address.
//
// Thread-compatible: one thread drives a LocalCluster; Kill/Stop/Resume of
// a worker may be called while other threads run requests.
#ifndef TESSERA_COORDINATOR_LOCAL_CLUSTER_H_
#define TESSERA_COORDINATOR_LOCAL_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tessera::coordinator {

// A child process with stdout/stderr sent to `log_path`.
class ChildProcess {
 public:
  // InvalidArgument when argv is empty; Internal when spawning fails.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();  // SIGKILL + reap

  void Signal(int signal);  // e.g. SIGSTOP / SIGCONT
  void Kill();              // SIGKILL + reap; idempotent
  bool Running();           // false once the process has exited (reaps it)
  // Lets the process outlive this object (it is neither killed nor reaped).
  void Detach() { reaped_ = true; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

 private:
  ChildProcess(pid_t pid, std::string log_path)
      : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  bool reaped_ = false;
};

// Polls for a non-empty file (written atomically) for up to `timeout`.
// DeadlineExceeded naming the file otherwise.
absl::StatusOr<std::string> WaitForFile(const std::string& path,
                                        absl::Duration timeout);

struct LocalClusterOptions {
  std::string bin_dir;      // with tessera-worker and tessera-coordinator
  std::string work_dir;     // port files, logs, profile caches
  std::string model_path;   // the coordinator's model
  std::string model_dir;    // the workers' model directory
  int workers = 3;
  std::string backend = "reference";
  int threads = 1;
  std::string codec = "f32";
  int zstd_level = 0;
  std::string token;
  std::string planner = "even";  // every worker takes part
  std::vector<std::string> extra_worker_flags;
  // Flags for worker i only (entries past `workers` are ignored).
  std::vector<std::vector<std::string>> per_worker_flags;
  // Per worker i, like per_worker_flags; a missing or empty entry means
  // the default. Names: --name (default w<i+1>). Listen hosts: the host
  // part of --listen (default 127.0.0.1). Command prefixes: argv put
  // before the worker's, its first element an absolute path (the process
  // must exec the worker, keeping its pid).
  std::vector<std::string> worker_names;
  std::vector<std::string> worker_listen_hosts;
  std::vector<std::vector<std::string>> worker_command_prefixes;
  std::vector<std::string> extra_coordinator_flags;
  absl::Duration start_timeout = absl::Seconds(120);
};

class LocalCluster {
 public:
  // Starts the workers, then the coordinator. Errors carry the tail of the
  // failing process's log.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(
      const LocalClusterOptions& options);

  const std::string& coordinator_address() const { return coordinator_addr_; }
  const std::vector<std::string>& worker_addresses() const {
    return worker_addrs_;
  }
  ChildProcess& worker(int i) { return *workers_[i]; }
  ChildProcess& coordinator() { return *coordinator_; }
  // Lets every process outlive the LocalCluster; returns their pids, the
  // coordinator's last.
  std::vector<pid_t> Detach();

 private:
  LocalCluster() = default;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
  std::vector<std::string> worker_addrs_;
  std::unique_ptr<ChildProcess> coordinator_;
  std::string coordinator_addr_;
};

// The last `bytes` of a file (for error messages).
std::string TailOfFile(const std::string& path, size_t bytes = 2000);

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_LOCAL_CLUSTER_H_
