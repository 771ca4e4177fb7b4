#include "worker/registration.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "tessera/v1/coordinator.grpc.pb.h"

namespace tessera::worker {
namespace {

bool Retryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

absl::Status RegisterOnce(v1::CoordinatorService::Stub& stub,
                          const RegistrationOptions& o) {
  v1::RegisterWorkerRequest request;
  request.set_protocol_version(kProtocolVersion);
  request.set_name(o.name);
  request.set_address(o.address);
  v1::RegisterWorkerResponse response;
  auto context = MakeContext(o.token, absl::Seconds(10));
  TESSERA_RETURN_IF_ERROR(
      ToAbsl(stub.RegisterWorker(context.get(), request, &response)));
  if (!response.accepted()) {
    return absl::FailedPreconditionError(
        absl::StrCat("refused: ", response.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> AdvertisedAddress(const std::string& advertise,
                                              const std::string& bound) {
  if (!advertise.empty()) return advertise;
  if (absl::StartsWith(bound, "0.0.0.0:") || absl::StartsWith(bound, "[::]:")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listening on ", bound,
        ": give --advertise HOST:PORT, the address peers can dial"));
  }
  return bound;
}

absl::Status RegisterWithCoordinator(const RegistrationOptions& o) {
  TESSERA_ASSIGN_OR_RETURN(auto creds, MakeChannelCredentials(o.tls));
  auto stub = v1::CoordinatorService::NewStub(MakeChannel(o.coordinator, creds));
  const absl::Time give_up = absl::Now() + o.retry_for;
  absl::Duration backoff = o.first_backoff;
  while (true) {
    absl::Status status = RegisterOnce(*stub, o);
    if (status.ok()) return status;
    if (!Retryable(status) || absl::Now() + backoff > give_up) {
      return Annotate(status, absl::StrCat("registering with coordinator ",
                                           o.coordinator));
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, o.max_backoff);
  }
}

}  // namespace tessera::worker
