// Helpers shared by every Tessera gRPC server and client: status conversion,
// the join token, TLS credentials, deadlines, and the conversion between
// activation frames and their protos. Thread-safe (no state).
#ifndef TESSERA_WORKER_RPC_UTIL_H_
#define TESSERA_WORKER_RPC_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tessera/v1/worker.pb.h"
#include "model/sampler.h"
#include "worker/activation_codec.h"

namespace tessera::worker {

// Metadata key of the join token on every call.
inline constexpr char kTokenMetadataKey[] = "x-tessera-token";
inline constexpr uint32_t kProtocolVersion = 1;

absl::Status ToAbsl(const grpc::Status& status);
grpc::Status ToGrpc(const absl::Status& status);

// OK when `expected` is empty or the call carries it; Unauthenticated
// otherwise (the message never echoes the token).
grpc::Status CheckToken(const grpc::ServerContextBase& context,
                        const std::string& expected);

// A client context with the token and a deadline `timeout` from now
// (no deadline when timeout is InfiniteDuration, for persistent streams).
std::unique_ptr<grpc::ClientContext> MakeContext(const std::string& token,
                                                 absl::Duration timeout);

// TLS files: all empty = insecure. cert+key = TLS; with ca as well the
// server requires client certificates (mutual TLS) and clients verify the
// server against ca and present cert+key.
struct TlsFiles {
  std::string cert_path;
  std::string key_path;
  std::string ca_path;
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& tls);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& tls);

// A channel with unlimited message sizes and keepalive pings, so that a dead
// peer is noticed within seconds on persistent streams.
std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& address, std::shared_ptr<grpc::ChannelCredentials> creds);

// Sampling parameters; unset proto fields take SamplingParams' defaults.
model::SamplingParams SamplingFromProto(const v1::SamplingConfig& proto);
v1::SamplingConfig SamplingToProto(const model::SamplingParams& params);

// The ack of frame `sequence`, handled with `status`; `refused`: the frame
// was refused as a whole (see ForwardAck.refused).
v1::ForwardAck MakeAck(uint64_t sequence, const absl::Status& status,
                       bool refused = false);

// A SessionError event failing `session` with `status`, its message
// prefixed "worker WORKER: ".
v1::WorkerEvent SessionErrorEvent(const std::string& worker, uint64_t session,
                                  const absl::Status& status);

// Proto <-> codec frame. FromProto never fails: DecodeActivations validates.
void ToProto(const EncodedActivations& frame, v1::ActivationPayload* proto);
EncodedActivations FromProto(const v1::ActivationPayload& proto);

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_RPC_UTIL_H_
