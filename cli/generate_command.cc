// `tessera generate`: runs a prompt on a Tessera cluster through its
// coordinator. Streams only the generated text to stdout as it arrives;
// usage, speed and per-stage times go to stderr.
#include <iostream>

#include "absl/strings/str_format.h"
#include "cli/args.h"
#include "cli/command.h"
#include "cli/sampling_flags.h"
#include "common/status_macros.h"
#include "tessera/v1/coordinator.grpc.pb.h"
#include "worker/rpc_util.h"

namespace tessera::cli {
namespace {

const char* FinishName(v1::FinishReason reason) {
  switch (reason) {
    case v1::FINISH_REASON_LENGTH: return "length";
    case v1::FINISH_REASON_END_OF_GENERATION: return "end of generation";
    case v1::FINISH_REASON_CONTEXT_FULL: return "context full";
    default: return "unspecified";
  }
}

void PrintSummary(const v1::GenerateResponse& last) {
  std::cerr << absl::StrFormat(
      "finish: %s | prompt %d tokens | generated %d tokens | first token "
      "%.1f ms | %.1f tok/s\n",
      FinishName(last.finish_reason()), last.usage().prompt_tokens(),
      last.usage().generated_tokens(), last.time_to_first_token_ms(),
      last.decode_tokens_per_second());
  for (const v1::StageStats& s : last.stages()) {
    std::cerr << absl::StrFormat(
        "  stage %-16s compute %.3f ms/token, codec %.3f ms/token, %d bytes "
        "sent\n",
        s.worker_name(), s.compute_ms_per_token(), s.codec_ms_per_token(),
        s.wire_bytes());
  }
}

absl::Status Generate(const ArgParser& args) {
  v1::GenerateRequest request;
  request.set_prompt(args.GetString("prompt"));
  request.set_max_new_tokens(static_cast<int32_t>(args.GetInt("n")));
  request.set_chat(args.GetBool("chat"));
  TESSERA_ASSIGN_OR_RETURN(model::SamplingParams sampling,
                           SamplingFromFlags(args));
  *request.mutable_sampling() = worker::SamplingToProto(sampling);
  worker::TlsFiles tls{args.GetString("tls-cert"), args.GetString("tls-key"),
                       args.GetString("tls-ca")};
  TESSERA_ASSIGN_OR_RETURN(auto creds, worker::MakeChannelCredentials(tls));
  auto stub = v1::CoordinatorService::NewStub(
      worker::MakeChannel(args.GetString("coordinator"), creds));
  auto context = worker::MakeContext(
      args.GetString("token"), absl::Seconds(args.GetInt("timeout")));
  auto reader = stub->Generate(context.get(), request);
  v1::GenerateResponse response, last;
  while (reader->Read(&response)) {
    std::cout << response.text() << std::flush;
    if (response.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      last = response;
    }
  }
  std::cout << std::endl;
  TESSERA_RETURN_IF_ERROR(worker::ToAbsl(reader->Finish()));
  PrintSummary(last);
  return absl::OkStatus();
}

int GenerateMain(const std::vector<std::string>& argv) {
  ArgParser args(
      "tessera generate --coordinator ADDR --prompt TEXT [-n N] [flags]");
  args.String("coordinator", "", "coordinator HOST:PORT").Required("coordinator");
  args.String("prompt", "", "prompt text").Required("prompt");
  args.Int("n", 128, "tokens to generate", "n");
  args.Bool("chat", false, "wrap the prompt in the model's chat template");
  args.String("token", "", "join token");
  args.String("tls-cert", "", "client certificate (mutual TLS)");
  args.String("tls-key", "", "client private key");
  args.String("tls-ca", "", "CA that signed the coordinator's certificate");
  args.Int("timeout", 600, "seconds before the request is abandoned");
  DeclareSamplingFlags(args);
  return RunParsed(args, argv, "tessera generate", Generate);
}

}  // namespace

TESSERA_REGISTER_COMMAND(generate, "generate text on a Tessera cluster",
                         GenerateMain);

}  // namespace tessera::cli
