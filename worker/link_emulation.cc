#include "worker/link_emulation.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace tessera::worker {

absl::StatusOr<LinkEmulation> ParseLinkEmulation(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  double values[3] = {0, 0, 0};
  bool ok = parts.size() == 3;
  for (size_t i = 0; ok && i < 3; ++i) {
    ok = absl::SimpleAtod(parts[i], &values[i]) && std::isfinite(values[i]) &&
         values[i] >= 0;
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "link emulation '", text,
        "' is not LAT_MS:MBPS:JITTER_MS with finite values >= 0"));
  }
  LinkEmulation link;
  link.latency_ms = values[0];
  link.bandwidth_bytes_per_s = values[1] * 1e6 / 8;
  link.jitter_ms = values[2];
  return link;
}

std::string FormatLinkEmulation(const LinkEmulation& link) {
  return absl::StrCat(link.latency_ms, ":",
                      link.bandwidth_bytes_per_s * 8 / 1e6, ":",
                      link.jitter_ms);
}

LinkDelayModel::LinkDelayModel(const LinkEmulation& link)
    : link_(link), rng_(link.seed) {}

absl::Time LinkDelayModel::Arrival(absl::Time now, int64_t bytes) {
  const absl::Time start = std::max(now, link_free_);
  link_free_ = start;
  if (link_.bandwidth_bytes_per_s > 0) {
    link_free_ += absl::Seconds(static_cast<double>(bytes) /
                                link_.bandwidth_bytes_per_s);
  }
  double latency_ms = link_.latency_ms;
  if (link_.jitter_ms > 0) {
    latency_ms = std::max(0.0, latency_ms + link_.jitter_ms * normal_(rng_));
  }
  last_arrival_ =
      std::max(last_arrival_, link_free_ + absl::Milliseconds(latency_ms));
  return last_arrival_;
}

DelayLine::DelayLine(const LinkEmulation& link) : model_(link) {
  thread_ = std::thread([this] { Loop(); });
}

DelayLine::~DelayLine() {
  {
    absl::MutexLock lock(&mutex_);
    stop_ = true;
  }
  thread_.join();
}

void DelayLine::Push(int64_t bytes, std::function<void()> deliver) {
  absl::MutexLock lock(&mutex_);
  const absl::Time due = model_.Arrival(absl::Now(), bytes);
  queue_.push_back({due, std::move(deliver)});
}

void DelayLine::Loop() {
  for (;;) {
    std::function<void()> deliver;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(
          +[](DelayLine* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
            return self->stop_ || !self->queue_.empty();
          },
          this));
      if (stop_) return;
      // Only stop_ wakes us early; new messages arrive no sooner than this.
      const absl::Time due = queue_.front().due;
      if (mutex_.AwaitWithDeadline(absl::Condition(&stop_), due)) return;
      deliver = std::move(queue_.front().deliver);
      queue_.pop_front();
    }
    deliver();
  }
}

}  // namespace tessera::worker
