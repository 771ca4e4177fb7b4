#include "worker/server.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"

namespace tessera::worker {

absl::StatusOr<RunningServer> StartServer(const std::string& listen,
                                          const TlsFiles& tls,
                                          grpc::Service* service,
                                          int max_receive_bytes) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", listen, "' is not HOST:PORT"));
  }
  TESSERA_ASSIGN_OR_RETURN(auto creds, MakeServerCredentials(tls));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, creds, &port);
  builder.SetMaxReceiveMessageSize(max_receive_bytes);
  builder.SetMaxSendMessageSize(-1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.RegisterService(service);
  RunningServer running;
  running.server = builder.BuildAndStart();
  if (running.server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen));
  }
  running.address = absl::StrCat(listen.substr(0, colon), ":", port);
  return running;
}

absl::Status AnnounceAddress(const std::string& address,
                             const std::string& port_file) {
  std::printf("listening on %s\n", address.c_str());
  std::fflush(stdout);
  if (port_file.empty()) return absl::OkStatus();
  const std::string tmp = port_file + ".tmp";
  TESSERA_RETURN_IF_ERROR(WriteStringToFile(tmp, address));
  if (std::rename(tmp.c_str(), port_file.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp));
  }
  return absl::OkStatus();
}

}  // namespace tessera::worker
