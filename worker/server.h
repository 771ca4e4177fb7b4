// Starting a gRPC server on HOST:PORT (port 0 picks a free port) and
// reporting the address actually bound.
#ifndef TESSERA_WORKER_SERVER_H_
#define TESSERA_WORKER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "worker/rpc_util.h"

namespace tessera::worker {

struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  std::string address;  // HOST:PORT with the bound port
};

// Builds and starts a server for `service`, refusing received messages
// over `max_receive_bytes` (-1: no limit; activation frames between
// workers are limited by their codec). Unavailable when the address cannot
// be bound; InvalidArgument for bad TLS files.
absl::StatusOr<RunningServer> StartServer(const std::string& listen,
                                          const TlsFiles& tls,
                                          grpc::Service* service,
                                          int max_receive_bytes = -1);

// Prints "listening on ADDR" to stdout (flushed) and, when `port_file` is
// not empty, writes ADDR to it atomically (write + rename).
absl::Status AnnounceAddress(const std::string& address,
                             const std::string& port_file);

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_SERVER_H_
