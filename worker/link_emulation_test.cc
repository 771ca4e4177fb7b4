#include "worker/link_emulation.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace tessera::worker {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

LinkEmulation Link(double latency_ms, double bytes_per_s, double jitter_ms) {
  LinkEmulation link;
  link.latency_ms = latency_ms;
  link.bandwidth_bytes_per_s = bytes_per_s;
  link.jitter_ms = jitter_ms;
  return link;
}

TEST(LinkEmulationTest, ParsesLatencyMegabitsAndJitter) {
  auto link = ParseLinkEmulation("3:200:2");
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_DOUBLE_EQ(link->latency_ms, 3);
  EXPECT_DOUBLE_EQ(link->bandwidth_bytes_per_s, 25e6);
  EXPECT_DOUBLE_EQ(link->jitter_ms, 2);
  EXPECT_TRUE(link->enabled());
  auto again = ParseLinkEmulation(FormatLinkEmulation(*link));
  ASSERT_TRUE(again.ok());
  EXPECT_DOUBLE_EQ(again->bandwidth_bytes_per_s, 25e6);
}

TEST(LinkEmulationTest, RejectsMalformedText) {
  for (const char* bad : {"", "1:2", "1:2:3:4", "a:1:1", "-1:1:1", "1:nan:0",
                          "1:inf:0", "1::1"}) {
    EXPECT_EQ(ParseLinkEmulation(bad).status().code(),
              absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(LinkEmulation().enabled());
}

TEST(LinkDelayModelTest, ArrivalIsLatencyPlusSerialisation) {
  LinkDelayModel model(Link(2, 1e6, 0));
  // 1000 bytes at 1 MB/s: 1 ms on the wire, then 2 ms of latency.
  EXPECT_EQ(model.Arrival(kT0, 1000), kT0 + absl::Milliseconds(3));
}

TEST(LinkDelayModelTest, BackToBackMessagesQueueForTheWireNotTheLatency) {
  LinkDelayModel model(Link(5, 1e6, 0));
  EXPECT_EQ(model.Arrival(kT0, 2000), kT0 + absl::Milliseconds(7));
  // Sent at once: waits for the first to leave the wire (2 ms), 2 ms more.
  EXPECT_EQ(model.Arrival(kT0, 2000), kT0 + absl::Milliseconds(9));
  // Much later: the link is idle again.
  EXPECT_EQ(model.Arrival(kT0 + absl::Seconds(1), 0),
            kT0 + absl::Seconds(1) + absl::Milliseconds(5));
}

TEST(LinkDelayModelTest, UnlimitedBandwidthCostsOnlyLatency) {
  LinkDelayModel model(Link(1.5, 0, 0));
  EXPECT_EQ(model.Arrival(kT0, 1 << 30), kT0 + absl::Microseconds(1500));
}

TEST(LinkDelayModelTest, JitterIsSeededClampedAndKeepsOrder) {
  LinkDelayModel a(Link(1, 0, 5)), b(Link(1, 0, 5));
  absl::Time previous = absl::InfinitePast();
  bool varied = false;
  for (int i = 0; i < 200; ++i) {
    const absl::Time now = kT0 + absl::Microseconds(100 * i);
    const absl::Time arrival = a.Arrival(now, 10);
    EXPECT_EQ(arrival, b.Arrival(now, 10));  // same seed, same delays
    EXPECT_GE(arrival, now);                 // never negative latency
    EXPECT_GE(arrival, previous);            // never overtakes
    if (arrival - now != absl::Milliseconds(1)) varied = true;
    previous = arrival;
  }
  EXPECT_TRUE(varied);
}

TEST(DelayLineTest, DeliversEveryMessageInOrder) {
  absl::Mutex mutex;
  std::vector<int> delivered;
  {
    DelayLine line(Link(0.2, 0, 0.1));
    for (int i = 0; i < 20; ++i) {
      line.Push(8, [&, i] {
        absl::MutexLock lock(&mutex);
        delivered.push_back(i);
      });
    }
    absl::MutexLock lock(&mutex);
    mutex.Await(absl::Condition(
        +[](std::vector<int>* d) { return d->size() == 20; }, &delivered));
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(delivered[i], i);
}

}  // namespace
}  // namespace tessera::worker
