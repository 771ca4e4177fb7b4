// `tessera status`: prints the cluster table of a coordinator: each stage's
// worker, state, layers, formats, memory, backend and measured ms/token.
#include <iostream>

#include "absl/strings/str_format.h"
#include "cli/args.h"
#include "cli/command.h"
#include "common/status_macros.h"
#include "coordinator/stage_status_text.h"
#include "tessera/v1/coordinator.grpc.pb.h"
#include "worker/activation_codec.h"
#include "worker/rpc_util.h"

namespace tessera::cli {
namespace {

void PrintTable(const v1::ClusterStatusResponse& status) {
  std::cout << absl::StrFormat(
      "model %s (sha256 %.12s) | planner: %s | codec %s%s | %d active, %d "
      "queued requests\n",
      status.model().name(), status.model().sha256(), status.planner(),
      worker::CodecName(static_cast<worker::Codec>(status.codec().codec())),
      status.codec().zstd_level() > 0
          ? absl::StrFormat("+zstd%d", status.codec().zstd_level())
          : "",
      status.active_requests(), status.queued_requests());
  std::cout << absl::StrFormat("%-16s %-22s %-10s %-9s %-8s %12s %10s  %s\n",
                               "WORKER", "ADDRESS", "STATE", "LAYERS", "FORMAT",
                               "WEIGHTS(MiB)", "MS/TOKEN", "BACKEND");
  for (const v1::StageStatus& s : status.stages()) {
    std::cout << absl::StrFormat(
        "%-16s %-22s %-10s %-9s %-8s %12.2f %10.3f  %s\n", s.worker_name(),
        s.address(), s.state().substr(0, 10),
        absl::StrFormat("%d-%d%s%s", s.first_layer(), s.end_layer() - 1,
                        s.has_embedding() ? "E" : "", s.has_head() ? "H" : ""),
        coordinator::StageFormatsText(s), s.weight_bytes() / 1048576.0,
        s.compute_ms_per_token(), s.backend());
    if (s.state() != "ready") std::cout << "  " << s.state() << "\n";
  }
}

absl::Status Status(const ArgParser& args) {
  worker::TlsFiles tls{args.GetString("tls-cert"), args.GetString("tls-key"),
                       args.GetString("tls-ca")};
  TESSERA_ASSIGN_OR_RETURN(auto creds, worker::MakeChannelCredentials(tls));
  auto stub = v1::CoordinatorService::NewStub(
      worker::MakeChannel(args.GetString("coordinator"), creds));
  auto context =
      worker::MakeContext(args.GetString("token"), absl::Seconds(10));
  v1::ClusterStatusResponse response;
  TESSERA_RETURN_IF_ERROR(worker::ToAbsl(stub->ClusterStatus(
      context.get(), v1::ClusterStatusRequest(), &response)));
  PrintTable(response);
  return absl::OkStatus();
}

int StatusMain(const std::vector<std::string>& argv) {
  ArgParser args("tessera status --coordinator ADDR");
  args.String("coordinator", "", "coordinator HOST:PORT")
      .Required("coordinator");
  args.String("token", "", "join token");
  args.String("tls-cert", "", "client certificate (mutual TLS)");
  args.String("tls-key", "", "client private key");
  args.String("tls-ca", "", "CA that signed the coordinator's certificate");
  return RunParsed(args, argv, "tessera status", Status);
}

}  // namespace

TESSERA_REGISTER_COMMAND(status, "print the cluster table of a coordinator",
                         StatusMain);

}  // namespace tessera::cli
