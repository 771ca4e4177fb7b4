#include "partitioner/cluster.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::partitioner {
namespace {

using ::testing::HasSubstr;
using model::GgmlType;

Cluster TwoDevices() {
  Cluster c;
  c.name = "pair";
  for (const char* name : {"a", "b"}) {
    DeviceProfile d;
    d.name = name;
    d.memory_budget_bytes = 1 << 30;
    d.perf[GgmlType::kF16] = {10e9, 100e9};
    c.devices.push_back(d);
  }
  c.links.push_back({"a", "b", 1.0, 100e6});
  return c;
}

void ExpectInvalid(const Cluster& c, const std::string& field) {
  absl::Status s = ValidateCluster(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(field));
}

TEST(ClusterTest, ValidClusterPasses) {
  EXPECT_TRUE(ValidateCluster(TwoDevices()).ok());
}

TEST(ClusterTest, RejectsNonPositiveMemoryNamingTheField) {
  Cluster c = TwoDevices();
  c.devices[1].memory_budget_bytes = -5;
  ExpectInvalid(c, "devices[1] (b).memory_budget_bytes must be > 0, got -5");
}

TEST(ClusterTest, RejectsZeroBandwidthNamingTheField) {
  Cluster c = TwoDevices();
  c.devices[0].perf[GgmlType::kQ4_0] = {0, 1e9};
  ExpectInvalid(c, "devices[0] (a).perf[q4_0].decode_bytes_per_s must be > 0");
  c = TwoDevices();
  c.links[0].bandwidth_bytes_per_s = 0;
  ExpectInvalid(c, "links[0].bandwidth_bytes_per_s must be > 0");
}

TEST(ClusterTest, RejectsUnknownDeviceInALink) {
  Cluster c = TwoDevices();
  c.links.push_back({"a", "pi-9", 1.0, 1e6});
  ExpectInvalid(c, "links[1].to: unknown device 'pi-9'");
  c = TwoDevices();
  c.links[0].to = c.links[0].from;  // "a" -> "a"
  ExpectInvalid(c, "links[0]: links device 'a' to itself");
}

TEST(ClusterTest, RejectsOtherBadFields) {
  Cluster c = TwoDevices();
  c.devices[1].name = c.devices[0].name;
  ExpectInvalid(c, "duplicates an earlier device");
  c = TwoDevices();
  c.devices[0].perf.clear();
  ExpectInvalid(c, "devices[0] (a).perf must list at least one format");
  c = TwoDevices();
  c.devices[0].step_overhead_ms = -1;
  ExpectInvalid(c, "step_overhead_ms must be >= 0");
  c = TwoDevices();
  c.links[0].latency_ms = -0.5;
  ExpectInvalid(c, "links[0].latency_ms must be >= 0");
  c = TwoDevices();
  c.default_link = LinkProfile{"", "", 1, 0};
  ExpectInvalid(c, "default_link.bandwidth_bytes_per_s");
  ExpectInvalid(Cluster{}, "no devices");
}

TEST(ClusterTest, FindLinkPrefersExplicitThenDefault) {
  Cluster c = TwoDevices();
  auto ab = FindLink(c, 0, 1);
  ASSERT_TRUE(ab.has_value());
  EXPECT_EQ(ab->latency_ms, 1.0);
  EXPECT_FALSE(FindLink(c, 1, 0).has_value());  // links are directed
  c.default_link = LinkProfile{"", "", 7.0, 5e6};
  auto ba = FindLink(c, 1, 0);
  ASSERT_TRUE(ba.has_value());
  EXPECT_EQ(ba->latency_ms, 7.0);
  EXPECT_EQ(ba->from, "b");
  c.links.push_back({"a", "b", 3.0, 1e6});  // later entries win
  EXPECT_EQ(FindLink(c, 0, 1)->latency_ms, 3.0);
}

TEST(ClusterTest, WorkloadAndCodec) {
  Workload w;
  EXPECT_TRUE(ValidateWorkload(w).ok());
  w.concurrent_requests = 0;
  EXPECT_THAT(std::string(ValidateWorkload(w).message()),
              HasSubstr("workload.concurrent_requests"));
  EXPECT_EQ(*ParseCodec("Q8_0"), ActivationCodec::kQ8_0);
  EXPECT_EQ(*ParseCodec("f16"), ActivationCodec::kF16);
  EXPECT_FALSE(ParseCodec("bf16").ok());
}

}  // namespace
}  // namespace tessera::partitioner
