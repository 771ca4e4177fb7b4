// tessera-worker: serves one shard of a model to a Tessera coordinator.
//   tessera-worker --listen HOST:PORT --model-dir DIR [--name N]
//       [--memory-budget BYTES] [--backend cpu|reference|opencl:P:D]
//       [--threads N] [--token T] [--tls-cert F --tls-key F --tls-ca F]
//       [--emulate-slowdown FACTOR] [--emulate-link LAT_MS:MBPS:JITTER_MS]
//       [--coordinator HOST:PORT [--advertise HOST:PORT]]
#include <unistd.h>

#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/args.h"
#include "kernels/backend.h"
#include "worker/registration.h"
#include "worker/server.h"
#include "worker/worker_service.h"

namespace {

void DeclareFlags(tessera::cli::ArgParser& args) {
  args.String("listen", "127.0.0.1:0", "HOST:PORT (port 0: any free port)");
  args.String("model-dir", "", "directory with the GGUF models")
      .Required("model-dir");
  args.String("name", "", "worker name (default: worker-PID)");
  args.Int("memory-budget", 0, "bytes this worker may use (0: all memory)");
  args.String("backend", "cpu", "cpu | reference | opencl[:PLATFORM:DEVICE]");
  args.Int("threads", 1, "compute threads");
  args.Int("kv-budget", int64_t{256} << 20,
           "bytes all sessions' KV caches may take together");
  args.String("kv-type", "f32",
              "KV cache element type: f32 | f16 (half the memory; cpu only)");
  args.Int("max-message-mb", 512,
           "largest message accepted, in MiB (activation frames of long "
           "prompts are the largest)");
  args.String("token", "", "join token required on every call");
  args.String("tls-cert", "", "PEM certificate (enables TLS)");
  args.String("tls-key", "", "PEM private key");
  args.String("tls-ca", "", "PEM CA: require and verify client certificates");
  args.String("profile-cache", "", "file caching the measured profile");
  args.String("emulate-slowdown", "1",
              "FACTOR >= 1: sleep (FACTOR-1) x compute after each batch; "
              "the profile reports measured speeds / FACTOR");
  args.String("emulate-link", "",
              "LAT_MS:MBPS:JITTER_MS (MBPS 0: unlimited): delay every frame "
              "and link probe sent onward");
  args.String("port-file", "", "write the bound HOST:PORT to this file");
  args.Int("fault-hang-after-steps", 0,
           "testing only: the compute thread stalls in step N+1");
  args.String("coordinator", "",
              "HOST:PORT of a coordinator to register with (--expect-workers)");
  args.String("advertise", "",
              "HOST:PORT the coordinator and peers dial (default: --listen)");
}

// With --coordinator, registers in the background (retrying while the
// coordinator is unreachable). InvalidArgument when no dialable address is
// known.
absl::Status StartRegistration(const tessera::cli::ArgParser& args,
                               const tessera::worker::WorkerOptions& options,
                               const std::string& bound) {
  if (args.GetString("coordinator").empty()) return absl::OkStatus();
  tessera::worker::RegistrationOptions r;
  auto address =
      tessera::worker::AdvertisedAddress(args.GetString("advertise"), bound);
  if (!address.ok()) return address.status();
  r.coordinator = args.GetString("coordinator");
  r.name = options.name;
  r.address = *address;
  r.token = options.token;
  r.tls = options.tls;
  std::thread([r] {
    absl::Status status = tessera::worker::RegisterWithCoordinator(r);
    if (status.ok()) {
      std::cerr << "tessera-worker: registered with " << r.coordinator << "\n";
    } else {
      std::cerr << "tessera-worker: " << status.message() << "\n";
    }
  }).detach();
  return absl::OkStatus();
}

// Fills the emulation options; prints the problem and returns false on bad
// values.
bool ParseEmulation(const tessera::cli::ArgParser& args,
                    tessera::worker::WorkerOptions& options) {
  const std::string factor = args.GetString("emulate-slowdown");
  if (!absl::SimpleAtod(factor, &options.emulate_slowdown) ||
      !(options.emulate_slowdown >= 1 && options.emulate_slowdown <= 1e6)) {
    std::cerr << "tessera-worker: --emulate-slowdown must be a number in "
                 "[1, 1e6], not '" << factor << "'\n";
    return false;
  }
  const std::string link = args.GetString("emulate-link");
  if (link.empty()) return true;
  auto parsed = tessera::worker::ParseLinkEmulation(link);
  if (!parsed.ok()) {
    std::cerr << "tessera-worker: --emulate-link: " << parsed.status().message()
              << "\n";
    return false;
  }
  options.emulate_link = *parsed;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  tessera::cli::ArgParser args(
      "tessera-worker --listen HOST:PORT --model-dir DIR [flags]");
  DeclareFlags(args);
  int code = 0;
  if (!ParseOrExit(args, {argv + 1, argv + argc}, code)) return code;
  tessera::worker::WorkerOptions options;
  options.model_dir = args.GetString("model-dir");
  options.name = args.GetString("name");
  if (options.name.empty()) options.name = absl::StrCat("worker-", getpid());
  options.memory_budget_bytes = args.GetInt("memory-budget");
  options.backend = args.GetString("backend");
  options.threads = static_cast<int>(args.GetInt("threads"));
  options.token = args.GetString("token");
  options.tls = {args.GetString("tls-cert"), args.GetString("tls-key"),
                 args.GetString("tls-ca")};
  options.profile_cache_path = args.GetString("profile-cache");
  options.fault_hang_after_steps = args.GetInt("fault-hang-after-steps");
  if (!ParseEmulation(args, options)) return 2;
  auto kv_type = tessera::kernels::ParseKvType(args.GetString("kv-type"));
  if (!kv_type.ok()) {
    std::cerr << "tessera-worker: --kv-type: " << kv_type.status().message()
              << "\n";
    return 2;
  }
  options.kv_type = *kv_type;
  if (options.kv_type != tessera::model::GgmlType::kF32 &&
      !absl::StartsWith(options.backend, "cpu")) {
    std::cerr << "tessera-worker: --kv-type " << args.GetString("kv-type")
              << " needs the cpu backend (" << options.backend
              << " keeps its KV cache in f32)\n";
    return 2;
  }
  if (options.threads < 1 || options.threads > 1024 ||
      options.memory_budget_bytes < 0 || args.GetInt("kv-budget") < 1 ||
      args.GetInt("max-message-mb") < 1 ||
      args.GetInt("max-message-mb") > 2047) {
    std::cerr << "tessera-worker: --threads must be in [1, 1024], "
                 "--memory-budget >= 0, --kv-budget >= 1 and "
                 "--max-message-mb in [1, 2047]\n";
    return 2;
  }
  options.kv_budget_bytes = args.GetInt("kv-budget");
  tessera::worker::WorkerService service(options);
  auto server = tessera::worker::StartServer(
      args.GetString("listen"), options.tls, &service,
      static_cast<int>(args.GetInt("max-message-mb") << 20));
  absl::Status status = server.status();
  if (status.ok()) {
    status = tessera::worker::AnnounceAddress(server->address,
                                              args.GetString("port-file"));
  }
  if (status.ok()) status = StartRegistration(args, options, server->address);
  if (!status.ok()) {
    std::cerr << "tessera-worker: " << status.message() << "\n";
    return 1;
  }
  server->server->Wait();
  return 0;
}
