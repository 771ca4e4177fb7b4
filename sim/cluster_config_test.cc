#include "sim/cluster_config.h"

#include <filesystem>

#include "gtest/gtest.h"

namespace tessera::sim {
namespace {

// Tests run from the source root (tessera_test's WORKING_DIRECTORY).
std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".textproto") out.push_back(e.path().string());
  }
  return out;
}

TEST(Catalogue, EveryDeviceFileParsesWithHardwareFacts) {
  const auto files = Files("configs/devices");
  EXPECT_GE(files.size(), 10u);
  for (const std::string& f : files) {
    auto d = LoadDeviceFile(f);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_GT(d->hardware().memory_bytes(), d->memory_budget_bytes()) << f;
    EXPECT_GT(d->hardware().memory_bandwidth_bytes_per_s(), 0) << f;
    EXPECT_GT(d->hardware().cpu_cores(), 0) << f;
    // Decode cannot stream weights faster than the memory bus.
    for (const auto& p : d->perf()) {
      EXPECT_LE(p.decode_bytes_per_s(), d->hardware().memory_bandwidth_bytes_per_s()) << f;
    }
  }
}

TEST(Catalogue, EveryClusterFileLoads) {
  const auto files = Files("configs/clusters");
  EXPECT_GE(files.size(), 7u);
  for (const std::string& f : files) {
    auto c = LoadSimCluster(f);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->links.size(), c->cluster.devices.size() * c->cluster.devices.size());
  }
}

TEST(ClusterConfig, ExplicitLinksOverrideTheDefaultWithJitter) {
  auto c = LoadSimCluster("configs/clusters/edge_usb_tether.textproto");
  ASSERT_TRUE(c.ok()) << c.status();
  const SimLink& usb = c->link(1, 2), &back = c->link(2, 1), &wifi = c->link(0, 3);
  EXPECT_DOUBLE_EQ(usb.bandwidth_bytes_per_s, 35e6);
  EXPECT_DOUBLE_EQ(back.jitter_ms, 0.5);
  EXPECT_DOUBLE_EQ(wifi.jitter_ms, 2.0);
  EXPECT_FALSE(c->link(2, 2).usable);
}

TEST(ClusterConfig, ErrorsNameTheProblem) {
  auto bad = ParseSimCluster("name: \"x\" devices { nme: \"a\" }", "t.textproto");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("t.textproto:1:"), std::string::npos);
  auto jitter = ParseSimCluster(
      "name: \"x\" devices { name: \"a\" memory_budget_bytes: 10 perf { format: "
      "TENSOR_FORMAT_F16 decode_bytes_per_s: 1 prefill_flop_per_s: 1 } }"
      " default_link { latency_ms: 1 bandwidth_bytes_per_s: 1 jitter_ms: -1 }",
      "t");
  EXPECT_NE(jitter.status().message().find("jitter_ms"), std::string::npos);
  EXPECT_EQ(LoadSimCluster("/nonexistent.textproto").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera::sim
