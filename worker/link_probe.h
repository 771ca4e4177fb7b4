// Link measurements between workers: latency (median round trip of an
// empty LinkProbe) and bandwidth (a payload each way).
//
// A worker emulating a link (WorkerOptions::emulate_link) sends its probes
// through that link in both directions: each request and each reply is held
// for the emulated serialisation time, latency and jitter (a LinkDelayModel
// per direction) on top of the real transfer, so that a coordinator
// measuring the link sees the emulated one: round trip ~ 2 x latency,
// bandwidth ~ the emulated bandwidth.
#ifndef TESSERA_WORKER_LINK_PROBE_H_
#define TESSERA_WORKER_LINK_PROBE_H_

#include "absl/status/statusor.h"
#include "tessera/v1/worker.pb.h"
#include "worker/shard_loader.h"

namespace tessera::worker {

// Measures the link from this process to request.peer_address() with the
// worker's credentials and token. Each probe has a 5 s deadline (plus the
// emulated delays). InvalidArgument for silly requests; the peer's error
// otherwise.
absl::StatusOr<v1::MeasureLinkResponse> MeasurePeerLink(
    const WorkerOptions& options, const v1::MeasureLinkRequest& request);

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_LINK_PROBE_H_
