// tessera-coordinator: plans a model over workers and serves Generate.
//   tessera-coordinator --listen HOST:PORT --model PATH
//       (--workers A,B,C | --cluster FILE [--links measured|declared] |
//        --expect-workers N [--register-timeout SECONDS])
//       [--codec f32|f16|q8_0] [--zstd-level N] [--format f32|f16|q8_0|q4_0]
//       [--token T] [--tls-cert F --tls-key F --tls-ca F]
#include <iostream>

#include "absl/strings/str_split.h"
#include "cli/args.h"
#include "coordinator/cluster_file.h"
#include "coordinator/coordinator.h"
#include "coordinator/coordinator_service.h"
#include "worker/server.h"

namespace {

using tessera::cli::ArgParser;
using tessera::coordinator::Coordinator;
using tessera::coordinator::CoordinatorOptions;
using tessera::coordinator::CoordinatorService;

void DeclareFlags(ArgParser& args) {
  args.String("listen", "127.0.0.1:0", "HOST:PORT (port 0: any free port)");
  args.String("model", "", "GGUF model file (workers hold copies)")
      .Required("model");
  args.String("workers", "", "worker addresses: A,B,C");
  args.String("cluster", "",
              "cluster textproto whose devices give worker addresses");
  args.Int("expect-workers", 0,
           "form the cluster from the first N workers that register");
  args.Int("register-timeout", 600, "seconds to wait for --expect-workers");
  args.String("links", "measured",
              "links for the planner: measured | declared (cluster file)");
  args.String("codec", "f32", "activation codec: f32 | f16 | q8_0");
  args.Int("zstd-level", 0, "zstd level for activations (0: off)");
  args.String("format", "f32", "layer format: f32 | f16 | q8_0 | q4_0");
  args.Int("ctx", 0, "context tokens per session (0: the model's)");
  args.String("planner", "partitioner", "partitioner | even (layer split)");
  args.String("token", "", "join token for workers and clients");
  args.String("tls-cert", "", "PEM certificate (enables TLS)");
  args.String("tls-key", "", "PEM private key");
  args.String("tls-ca", "", "PEM CA: verify peers (mutual TLS)");
  args.String("port-file", "", "write the bound HOST:PORT to this file");
}

absl::StatusOr<tessera::coordinator::CoordinatorOptions> OptionsFromFlags(
    const ArgParser& args) {
  tessera::coordinator::CoordinatorOptions o;
  o.model_path = args.GetString("model");
  o.workers = absl::StrSplit(args.GetString("workers"), ',',
                             absl::SkipWhitespace());
  const std::string cluster = args.GetString("cluster");
  const int64_t expect = args.GetInt("expect-workers");
  if (expect < 0 || expect > 1024) {
    return absl::InvalidArgumentError("--expect-workers must be in [0, 1024]");
  }
  if (int(!o.workers.empty()) + int(!cluster.empty()) + int(expect > 0) != 1) {
    return absl::InvalidArgumentError(
        "give exactly one of --workers A,B,C, --cluster FILE and "
        "--expect-workers N");
  }
  if (!cluster.empty()) {
    auto file = tessera::coordinator::LoadClusterFile(cluster);
    if (!file.ok()) return file.status();
    o.cluster = *std::move(file);
  }
  o.links = args.GetString("links");
  auto codec = tessera::worker::ParseCodec(args.GetString("codec"));
  if (!codec.ok()) return codec.status();
  o.codec = {*codec, static_cast<int>(args.GetInt("zstd-level"))};
  auto format = tessera::model::ParseTypeName(args.GetString("format"));
  if (!format.ok()) return format.status();
  o.format = *format;
  o.max_context_tokens = args.GetInt("ctx");
  o.planner = args.GetString("planner");
  o.token = args.GetString("token");
  o.tls = {args.GetString("tls-cert"), args.GetString("tls-key"),
           args.GetString("tls-ca")};
  return o;
}

int Fail(const absl::Status& status) {
  std::cerr << "tessera-coordinator: " << status.message() << "\n";
  return 1;
}

// Waits for the registrations, then plans and loads as with --workers.
absl::StatusOr<std::unique_ptr<Coordinator>> FormByRegistration(
    const ArgParser& args, CoordinatorOptions options,
    CoordinatorService& service, const std::string& address) {
  const int n = static_cast<int>(args.GetInt("expect-workers"));
  std::cerr << "tessera-coordinator: listening on " << address
            << ", waiting for " << n << " workers to register\n";
  auto registered = service.AwaitRegistrations(
      n, absl::Seconds(args.GetInt("register-timeout")));
  if (!registered.ok()) return registered.status();
  for (const auto& w : *registered) options.workers.push_back(w.address);
  return Coordinator::Create(std::move(options));
}

}  // namespace

int main(int argc, char** argv) {
  ArgParser args(
      "tessera-coordinator --model PATH (--workers A,B,C | --cluster FILE | "
      "--expect-workers N) [flags]");
  DeclareFlags(args);
  int code = 0;
  if (!ParseOrExit(args, {argv + 1, argv + argc}, code)) return code;
  auto options = OptionsFromFlags(args);
  if (!options.ok()) return Fail(options.status());
  const tessera::worker::TlsFiles tls = options->tls;
  const bool by_registration = args.GetInt("expect-workers") > 0;
  CoordinatorService service(args.GetString("token"));
  // With a list, the port file appears once the cluster serves; with
  // registration, as soon as workers can register.
  absl::StatusOr<std::unique_ptr<Coordinator>> coordinator;
  if (!by_registration) {
    coordinator = Coordinator::Create(*options);
    if (!coordinator.ok()) return Fail(coordinator.status());
    service.SetCoordinator(coordinator->get());
  }
  // Requests are prompts and registrations: 64 MiB is far more text than
  // any context holds, and a larger message is refused before it is read.
  auto server = tessera::worker::StartServer(args.GetString("listen"), tls,
                                             &service, 64 << 20);
  if (!server.ok()) return Fail(server.status());
  absl::Status announced = tessera::worker::AnnounceAddress(
      server->address, args.GetString("port-file"));
  if (!announced.ok()) return Fail(announced);
  if (by_registration) {
    coordinator = FormByRegistration(args, *std::move(options), service,
                                     server->address);
    if (!coordinator.ok()) return Fail(coordinator.status());
    service.SetCoordinator(coordinator->get());
    std::cerr << "tessera-coordinator: serving\n";
  }
  server->server->Wait();
  return 0;
}
