#include "worker/rpc_util.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/mapped_file.h"

namespace tessera::worker {

absl::Status ToAbsl(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

grpc::Status CheckToken(const grpc::ServerContextBase& context,
                        const std::string& expected) {
  if (expected.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kTokenMetadataKey);
  if (it == metadata.end() ||
      std::string(it->second.data(), it->second.size()) != expected) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing or wrong join token");
  }
  return grpc::Status::OK;
}

std::unique_ptr<grpc::ClientContext> MakeContext(const std::string& token,
                                                 absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata(kTokenMetadataKey, token);
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  return context;
}

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  absl::StatusOr<std::string> pem = ReadFileToString(path);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read TLS ", what, " ", path, ": ",
                     pem.status().message()));
  }
  return pem;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& tls) {
  if (tls.cert_path.empty() && tls.key_path.empty()) {
    if (!tls.ca_path.empty()) {
      return absl::InvalidArgumentError("--tls-ca needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (tls.cert_path.empty() || tls.key_path.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  auto key = ReadPem(tls.key_path, "key");
  if (!key.ok()) return key.status();
  auto cert = ReadPem(tls.cert_path, "certificate");
  if (!cert.ok()) return cert.status();
  pair.private_key = *key;
  pair.cert_chain = *cert;
  options.pem_key_cert_pairs.push_back(pair);
  if (!tls.ca_path.empty()) {
    auto ca = ReadPem(tls.ca_path, "CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& tls) {
  if (tls.ca_path.empty()) {
    if (!tls.cert_path.empty()) {
      return absl::InvalidArgumentError(
          "a TLS client needs --tls-ca to verify its peers");
    }
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions options;
  auto ca = ReadPem(tls.ca_path, "CA");
  if (!ca.ok()) return ca.status();
  options.pem_root_certs = *ca;
  if (!tls.cert_path.empty()) {
    auto key = ReadPem(tls.key_path, "key");
    if (!key.ok()) return key.status();
    auto cert = ReadPem(tls.cert_path, "certificate");
    if (!cert.ok()) return cert.status();
    options.pem_private_key = *key;
    options.pem_cert_chain = *cert;
  }
  return grpc::SslCredentials(options);
}

std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& address, std::shared_ptr<grpc::ChannelCredentials> creds) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnect quickly after a peer restarts.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(address, creds, args);
}

model::SamplingParams SamplingFromProto(const v1::SamplingConfig& proto) {
  model::SamplingParams p;
  if (proto.has_temperature()) p.temperature = proto.temperature();
  if (proto.has_top_k()) p.top_k = proto.top_k();
  if (proto.has_top_p()) p.top_p = proto.top_p();
  if (proto.has_min_p()) p.min_p = proto.min_p();
  if (proto.has_repeat_penalty()) p.repeat_penalty = proto.repeat_penalty();
  if (proto.has_repeat_last_n()) p.repeat_last_n = proto.repeat_last_n();
  if (proto.has_seed()) p.seed = proto.seed();
  return p;
}

v1::SamplingConfig SamplingToProto(const model::SamplingParams& p) {
  v1::SamplingConfig s;
  s.set_temperature(p.temperature);
  s.set_top_k(p.top_k);
  s.set_top_p(p.top_p);
  s.set_min_p(p.min_p);
  s.set_repeat_penalty(p.repeat_penalty);
  s.set_repeat_last_n(p.repeat_last_n);
  s.set_seed(p.seed);
  return s;
}

v1::ForwardAck MakeAck(uint64_t sequence, const absl::Status& status,
                       bool refused) {
  v1::ForwardAck ack;
  ack.set_sequence(sequence);
  ack.set_code(static_cast<int>(status.code()));
  ack.set_message(std::string(status.message()));
  ack.set_refused(refused);
  return ack;
}

v1::WorkerEvent SessionErrorEvent(const std::string& worker, uint64_t session,
                                  const absl::Status& status) {
  v1::WorkerEvent event;
  v1::SessionError* error = event.mutable_error();
  error->set_session_id(session);
  error->set_code(static_cast<int>(status.code()));
  error->set_message(absl::StrCat("worker ", worker, ": ", status.message()));
  return event;
}

void ToProto(const EncodedActivations& frame, v1::ActivationPayload* proto) {
  proto->set_codec(static_cast<v1::ActivationCodec>(frame.codec));
  proto->set_zstd(frame.zstd);
  proto->set_rows(frame.rows);
  proto->set_cols(frame.cols);
  proto->set_raw_bytes(frame.raw_bytes);
  proto->set_crc32c(frame.crc32c);
  proto->set_data(frame.data);
}

EncodedActivations FromProto(const v1::ActivationPayload& proto) {
  EncodedActivations frame;
  frame.codec = static_cast<Codec>(proto.codec());
  frame.zstd = proto.zstd();
  frame.rows = proto.rows();
  frame.cols = proto.cols();
  frame.raw_bytes = proto.raw_bytes();
  frame.crc32c = proto.crc32c();
  frame.data = proto.data();
  return frame;
}

}  // namespace tessera::worker
