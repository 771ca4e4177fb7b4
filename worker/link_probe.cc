#include "worker/link_probe.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "tessera/v1/worker.grpc.pb.h"
#include "worker/link_emulation.h"
#include "worker/rpc_util.h"

namespace tessera::worker {
namespace {

// Both directions of an emulated link, for the probes' traffic.
class EmulatedPath {
 public:
  explicit EmulatedPath(const LinkEmulation& link)
      : out_(link), back_(Reverse(link)) {}

  // Blocks until a `bytes`-byte message sent now would have arrived.
  void Send(int64_t bytes) { SleepUntil(out_.Arrival(absl::Now(), bytes)); }
  void Receive(int64_t bytes) {
    SleepUntil(back_.Arrival(absl::Now(), bytes));
  }

 private:
  static LinkEmulation Reverse(LinkEmulation link) {
    link.seed += 1;  // independent jitter
    return link;
  }
  static void SleepUntil(absl::Time due) {
    const absl::Duration wait = due - absl::Now();
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
  }

  LinkDelayModel out_;
  LinkDelayModel back_;
};

absl::StatusOr<absl::Duration> Probe(v1::WorkerService::Stub& stub,
                                     const std::string& token,
                                     int64_t payload_bytes,
                                     std::optional<EmulatedPath>& emulated) {
  v1::LinkProbeRequest request;
  request.set_payload(std::string(payload_bytes, 'p'));
  request.set_reply_bytes(payload_bytes);
  v1::LinkProbeResponse response;
  auto context = MakeContext(token, absl::Seconds(5));
  const absl::Time start = absl::Now();
  if (emulated.has_value()) emulated->Send(request.ByteSizeLong());
  grpc::Status status = stub.LinkProbe(context.get(), request, &response);
  if (!status.ok()) return ToAbsl(status);
  if (emulated.has_value()) emulated->Receive(response.ByteSizeLong());
  return absl::Now() - start;
}

}  // namespace

absl::StatusOr<v1::MeasureLinkResponse> MeasurePeerLink(
    const WorkerOptions& options, const v1::MeasureLinkRequest& request) {
  const int round_trips = request.round_trips() > 0 ? request.round_trips() : 10;
  if (round_trips > 1000 || request.payload_bytes() < 0 ||
      request.payload_bytes() > (64 << 20)) {
    return absl::InvalidArgumentError("round_trips <= 1000, payload <= 64 MiB");
  }
  TESSERA_ASSIGN_OR_RETURN(auto creds, MakeChannelCredentials(options.tls));
  auto stub =
      v1::WorkerService::NewStub(MakeChannel(request.peer_address(), creds));
  std::optional<EmulatedPath> emulated;
  if (options.emulate_link.enabled()) emulated.emplace(options.emulate_link);
  std::vector<double> micros;
  for (int i = 0; i < round_trips; ++i) {
    TESSERA_ASSIGN_OR_RETURN(absl::Duration rtt,
                             Probe(*stub, options.token, 0, emulated));
    micros.push_back(absl::ToDoubleMicroseconds(rtt));
  }
  std::sort(micros.begin(), micros.end());
  v1::MeasureLinkResponse response;
  response.set_latency_us(micros[micros.size() / 2]);
  if (request.payload_bytes() > 0) {
    TESSERA_ASSIGN_OR_RETURN(
        absl::Duration t,
        Probe(*stub, options.token, request.payload_bytes(), emulated));
    const double seconds =
        std::max(absl::ToDoubleSeconds(t) - response.latency_us() * 1e-6, 1e-9);
    response.set_bytes_per_second(2.0 * request.payload_bytes() / seconds);
  }
  return response;
}

}  // namespace tessera::worker
