// Link emulation for a worker standing in for a slower, networked device on
// loopback: every frame it sends (to the next stage, or token events back to
// the coordinator) is delayed as a real link would delay it.
//
// The model matches the simulator's (sim/des.h): a link is a FIFO server that
// a message occupies for bytes / bandwidth; it then arrives after the latency
// plus a seeded Gaussian jitter (clamped at zero). Arrivals never overtake
// each other, so order is preserved.
//
// Thread-safety: LinkDelayModel is thread-compatible; DelayLine is
// thread-safe.
#ifndef TESSERA_WORKER_LINK_EMULATION_H_
#define TESSERA_WORKER_LINK_EMULATION_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tessera::worker {

struct LinkEmulation {
  double latency_ms = 0;
  double bandwidth_bytes_per_s = 0;  // 0: unlimited
  double jitter_ms = 0;              // standard deviation
  uint64_t seed = 1;
  bool enabled() const {
    return latency_ms > 0 || bandwidth_bytes_per_s > 0 || jitter_ms > 0;
  }
};

// Parses "LAT_MS:MBPS:JITTER_MS" (MBPS in megabits per second, 0 meaning
// unlimited). InvalidArgument for anything else, negative or non-finite
// values included.
absl::StatusOr<LinkEmulation> ParseLinkEmulation(absl::string_view text);

// The inverse of ParseLinkEmulation (for building worker flags).
std::string FormatLinkEmulation(const LinkEmulation& link);

// Pure delay arithmetic of one emulated link direction.
class LinkDelayModel {
 public:
  explicit LinkDelayModel(const LinkEmulation& link);

  // When a message of `bytes` handed over at `now` reaches the peer.
  // Calls must come with non-decreasing `now`.
  absl::Time Arrival(absl::Time now, int64_t bytes);

 private:
  const LinkEmulation link_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_{0.0, 1.0};
  absl::Time link_free_ = absl::InfinitePast();
  absl::Time last_arrival_ = absl::InfinitePast();
};

// Delivers pushed messages (closures) on its own thread at the arrival
// times of a LinkDelayModel, in push order. Destruction drops undelivered
// messages. Deliveries must not destroy the DelayLine.
class DelayLine {
 public:
  explicit DelayLine(const LinkEmulation& link);
  ~DelayLine();

  DelayLine(const DelayLine&) = delete;
  DelayLine& operator=(const DelayLine&) = delete;

  // Schedules `deliver` for the arrival of a `bytes`-byte message sent now.
  void Push(int64_t bytes, std::function<void()> deliver);

 private:
  struct Message {
    absl::Time due;
    std::function<void()> deliver;
  };
  void Loop();

  absl::Mutex mutex_;
  LinkDelayModel model_ ABSL_GUARDED_BY(mutex_);
  std::deque<Message> queue_ ABSL_GUARDED_BY(mutex_);
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_LINK_EMULATION_H_
