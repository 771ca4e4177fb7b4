// A worker announcing itself to a coordinator (tessera-worker --coordinator
// ADDR), for clusters formed by registration (tessera-coordinator
// --expect-workers N) rather than by a list of addresses.
//
// Thread-safety: pure functions, except that RegisterWithCoordinator blocks
// while it retries.
#ifndef TESSERA_WORKER_REGISTRATION_H_
#define TESSERA_WORKER_REGISTRATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "worker/rpc_util.h"

namespace tessera::worker {

struct RegistrationOptions {
  std::string coordinator;  // HOST:PORT
  std::string name;
  std::string address;      // where the coordinator and peers reach us
  std::string token;
  TlsFiles tls;
  // Retries while the coordinator is unreachable (it may start later).
  absl::Duration retry_for = absl::Minutes(10);
  absl::Duration first_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
};

// The address to announce: `advertise` when given, else `bound` (the
// listening HOST:PORT) unless its host is a wildcard (0.0.0.0, [::]), which
// peers cannot dial: InvalidArgument asking for --advertise then.
absl::StatusOr<std::string> AdvertisedAddress(const std::string& advertise,
                                              const std::string& bound);

// Registers once accepted. Unreachable coordinators (UNAVAILABLE,
// DEADLINE_EXCEEDED) are retried with exponential backoff up to
// `retry_for`; a refusal (another protocol version, a wrong token, a bad
// address) is returned at once, naming the coordinator.
absl::Status RegisterWithCoordinator(const RegistrationOptions& options);

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_REGISTRATION_H_
