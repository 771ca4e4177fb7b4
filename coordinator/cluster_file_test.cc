#include "coordinator/cluster_file.h"

#include <string>

#include "gtest/gtest.h"

namespace tessera::coordinator {
namespace {

constexpr char kTwoDevices[] = R"pb(
  name: "lab"
  devices { name: "a" address: "10.0.0.1:7000" memory_budget_bytes: 1000 }
  devices { name: "b" address: "[::1]:7001" }
  links { from: "a" to: "b" latency_ms: 2 bandwidth_bytes_per_s: 1e8
          both_directions: true }
  default_link { latency_ms: 5 bandwidth_bytes_per_s: 1e7 }
)pb";

TEST(ClusterFileTest, ReadsMembersAndLinks) {
  absl::StatusOr<ClusterFile> f = ParseClusterFile(kTwoDevices, "lab.textproto");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->name, "lab");
  ASSERT_EQ(f->members.size(), 2u);
  EXPECT_EQ(f->members[0].address, "10.0.0.1:7000");
  EXPECT_EQ(f->members[0].memory_budget_bytes, 1000);
  EXPECT_EQ(f->members[1].name, "b");
  EXPECT_EQ(f->members[1].memory_budget_bytes, 0);
  ASSERT_EQ(f->links.size(), 2u);  // both directions
  EXPECT_EQ(f->links[1].from, "b");
  EXPECT_EQ(f->links[1].to, "a");
  ASSERT_TRUE(f->default_link.has_value());
  EXPECT_EQ(f->default_link->latency_ms, 5);
}

// Each bad file must fail with a message naming the problem.
struct BadCase {
  const char* text;
  const char* expected;
};

TEST(ClusterFileTest, RejectsBadFilesWithTheField) {
  const BadCase cases[] = {
      {"", "no devices"},
      {"devices { name: 'a' }", "devices[0] (a).address: expected HOST:PORT"},
      {"devices { name: 'a' address: 'host' }", "expected HOST:PORT, got 'host'"},
      {"devices { name: 'a' address: 'h:0' }", "expected HOST:PORT"},
      {"devices { name: 'a' address: 'h:70000' }", "expected HOST:PORT"},
      {"devices { name: 'a' address: '::1:80' }", "needs brackets"},
      {"devices { address: 'h:1' }", "name is empty"},
      {"devices { name: 'a' address: 'h:1' memory_budget_bytes: -1 }",
       "memory_budget_bytes: must be >= 0"},
      {"devices { name: 'a' address: 'h:1' } devices { name: 'a' address: 'h:2' }",
       "devices[1] (a): the name is used twice"},
      {"devices { name: 'a' address: 'h:1' } devices { name: 'b' address: 'h:1' }",
       "'h:1' is used twice"},
      {"devices { name: 'a' address: 'h:1' } links { from: 'a' to: 'z' "
       "bandwidth_bytes_per_s: 1 }",
       "links[0]: unknown device 'z'"},
      {"devices { name: 'a' address: 'h:1' } links { from: 'a' to: 'a' "
       "bandwidth_bytes_per_s: 1 }",
       "from and to are equal"},
      {"devices { name: 'a' address: 'h:1' } devices { name: 'b' address: 'h:2' }"
       " links { from: 'a' to: 'b' latency_ms: -1 bandwidth_bytes_per_s: 1 }",
       "links[0].latency_ms: must be >= 0"},
      {"devices { name: 'a' address: 'h:1' } default_link { latency_ms: 1 }",
       "default_link.bandwidth_bytes_per_s: must be > 0"},
      {"devices { name: 'a' adress: 'h:1' }", "f:1:"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<ClusterFile> f = ParseClusterFile(c.text, "f");
    ASSERT_FALSE(f.ok()) << c.text;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(f.status().message().find(c.expected), std::string::npos)
        << c.text << " -> " << f.status();
  }
}

TEST(ClusterFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadClusterFile("/nonexistent/cluster.textproto").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera::coordinator
