#include "sim/netns.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace tessera::sim {
namespace {

using Argv = std::vector<std::string>;

// A working fake of the host's `ip`/`tc`: records every command line and
// fails those containing `fail_on` with `error`.
struct FakeHost {
  std::vector<std::string> commands;
  std::string fail_on;
  std::string error = "RTNETLINK answers: File exists";
  std::string routes = "default via 172.17.0.1 dev eth0\n";

  CommandRunner Runner() {
    return [this](const Argv& argv) -> absl::StatusOr<std::string> {
      const std::string line = absl::StrJoin(argv, " ");
      commands.push_back(line);
      if (!fail_on.empty() && absl::StrContains(line, fail_on)) {
        return absl::InternalError(
            absl::StrCat("`", line, "` exited with 2: ", error));
      }
      if (absl::StrContains(line, " route show")) return routes;
      return std::string();
    };
  }
  bool Ran(const std::string& line) const {
    return std::find(commands.begin(), commands.end(), line) != commands.end();
  }
};

TEST(NetnsTest, LayoutNamesAndAddresses) {
  auto l = MakeNetnsLayout(4194303, 3, Subnet24{70, 5});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->bridge, "ts4194303br");
  ASSERT_EQ(l->workers.size(), 3u);
  EXPECT_EQ(l->workers[0].netns, "ts4194303w1");
  EXPECT_EQ(l->workers[2].host_veth, "ts4194303h3");
  EXPECT_EQ(l->workers[2].ns_veth, "ts4194303n3");
  EXPECT_EQ(l->workers[0].address, "10.70.5.10");
  EXPECT_EQ(l->workers[2].address, "10.70.5.12");
  EXPECT_EQ(l->bridge_address(), "10.70.5.1");
}

TEST(NetnsTest, LayoutRejectsBadSizesAndLongNames) {
  EXPECT_FALSE(MakeNetnsLayout(100, 0, {}).ok());
  EXPECT_FALSE(MakeNetnsLayout(100, 201, {}).ok());
  EXPECT_FALSE(MakeNetnsLayout(0, 2, {}).ok());
  // 12 digits make "ts...h100" longer than 15 characters.
  auto l = MakeNetnsLayout(123456789012, 100, {});
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(absl::StrContains(l.status().message(), "15 characters"));
}

TEST(NetnsTest, RouteDestinationsTakeTheFirstWordOrTheAddressOfATypedRoute) {
  const std::string routes =
      "default via 10.0.0.1 dev eth0\n"
      "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n"
      "local 10.0.0.5 dev eth0 table local proto kernel\n"
      "broadcast 10.0.0.255 dev eth0 table local\n";
  EXPECT_EQ(RouteDestinations(routes),
            (std::vector<std::string>{"default", "10.0.0.0/24", "10.0.0.5",
                                      "10.0.0.255"}));
}

TEST(NetnsTest, SubnetComesFromThePidAndIsPrivate) {
  auto a = ChooseSubnet(1000, {});
  auto b = ChooseSubnet(1001, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->Cidr(0), b->Cidr(0));
  EXPECT_EQ(a->Cidr(0), ChooseSubnet(1000, {"default"})->Cidr(0));
  for (int64_t pid : {1, 4194304, 48640 * 3 - 1}) {
    auto s = ChooseSubnet(pid, {});
    ASSERT_TRUE(s.ok());
    EXPECT_GE(s->a, 64);
    EXPECT_LE(s->a, 253);
  }
}

TEST(NetnsTest, SubnetSkipsOverlappingRoutes) {
  auto first = ChooseSubnet(1000, {});
  ASSERT_TRUE(first.ok());
  // The same /24, a host inside it, and a wider prefix covering it.
  for (const std::string& route :
       {first->Cidr(0), first->Address(77),
        "10." + std::to_string(first->a) + ".0.0/16"}) {
    auto next = ChooseSubnet(1000, {route});
    ASSERT_TRUE(next.ok());
    EXPECT_NE(next->Cidr(0), first->Cidr(0)) << route;
  }
  EXPECT_EQ(ChooseSubnet(1000, {"192.168.0.0/16", "fe80::/64"})->Cidr(0),
            first->Cidr(0));
  EXPECT_EQ(ChooseSubnet(1000, {"10.0.0.0/8"}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(NetnsTest, TbfShapesBandwidthOnly) {
  const Argv argv = ShapeCommand("ns1", "veth1", {3, 2, 25e6}, false);
  EXPECT_EQ(absl::StrJoin(argv, " "),
            "/usr/sbin/tc -n ns1 qdisc add dev veth1 root tbf rate "
            "200000000bit burst 32768 limit 12500000");
  EXPECT_TRUE(ShapeCommand("ns1", "veth1", {3, 2, 0}, false).empty());
}

TEST(NetnsTest, NetemShapesLatencyJitterAndRate) {
  EXPECT_EQ(absl::StrJoin(ShapeCommand("ns1", "v", {3, 2, 25e6}, true), " "),
            "/usr/sbin/tc -n ns1 qdisc add dev v root netem delay 3.000ms "
            "2.000ms distribution normal limit 100000 rate 200000000bit");
  EXPECT_TRUE(ShapeCommand("ns1", "v", {0, 0, 0}, true).empty());
}

TEST(NetnsTest, CreateBuildsBridgeThenEachNamespace) {
  FakeHost host;
  auto network = NetnsNetwork::Create(42, 2, host.Runner());
  ASSERT_TRUE(network.ok()) << network.status();
  const NetnsLayout& l = (*network)->layout();
  const std::string ip = "/usr/sbin/ip ";
  EXPECT_TRUE(host.Ran(ip + "link add ts42br type bridge"));
  EXPECT_TRUE(host.Ran(ip + "addr add " + l.subnet.Cidr(1) + " dev ts42br"));
  EXPECT_TRUE(host.Ran(ip + "netns add ts42w2"));
  EXPECT_TRUE(host.Ran(ip + "link add ts42h2 type veth peer name ts42n2 "
                            "netns ts42w2"));
  EXPECT_TRUE(host.Ran(ip + "link set ts42h2 master ts42br"));
  EXPECT_TRUE(host.Ran(ip + "-n ts42w2 addr add " + l.workers[1].address +
                       "/24 dev ts42n2"));
  EXPECT_EQ((*network)->ExecPrefix(1),
            (Argv{"/usr/sbin/ip", "netns", "exec", "ts42w2"}));
  host.commands.clear();
  network->reset();  // removes everything
  EXPECT_EQ(host.commands, (std::vector<std::string>{
                               ip + "link del ts42h1", ip + "link del ts42h2",
                               ip + "netns del ts42w1", ip + "netns del ts42w2",
                               ip + "link del ts42br"}));
}

TEST(NetnsTest, FailedCreateRemovesWhatItMadeAndNamesTheCommand) {
  FakeHost host;
  host.fail_on = "netns add ts42w2";
  auto network = NetnsNetwork::Create(42, 3, host.Runner());
  ASSERT_FALSE(network.ok());
  EXPECT_TRUE(absl::StrContains(network.status().message(),
                                "/usr/sbin/ip netns add ts42w2"));
  EXPECT_TRUE(absl::StrContains(network.status().message(), "File exists"));
  EXPECT_TRUE(host.Ran("/usr/sbin/ip link del ts42h1"));
  EXPECT_TRUE(host.Ran("/usr/sbin/ip netns del ts42w1"));
  EXPECT_TRUE(host.Ran("/usr/sbin/ip link del ts42br"));
  EXPECT_FALSE(host.Ran("/usr/sbin/ip netns del ts42w3"));  // never made
}

TEST(NetnsTest, ReleasedNetworkIsLeftInPlace) {
  FakeHost host;
  auto network = NetnsNetwork::Create(42, 2, host.Runner());
  ASSERT_TRUE(network.ok());
  NetnsResources r = (*network)->Release();
  EXPECT_EQ(r.netns, (std::vector<std::string>{"ts42w1", "ts42w2"}));
  EXPECT_EQ(r.veths, (std::vector<std::string>{"ts42h1", "ts42h2"}));
  EXPECT_EQ(r.bridge, "ts42br");
  host.commands.clear();
  network->reset();
  EXPECT_TRUE(host.commands.empty());
}

TEST(NetnsTest, NetemProbeFallsBackWhenTheKernelLacksIt) {
  FakeHost host;
  auto network = NetnsNetwork::Create(42, 1, host.Runner());
  ASSERT_TRUE(network.ok());
  EXPECT_TRUE((*network)->NetemAvailable());
  EXPECT_TRUE(host.Ran("/usr/sbin/tc qdisc del dev ts42br root"));
  host.fail_on = "netem";
  host.error = "Error: Specified qdisc kind is unknown.";
  EXPECT_FALSE((*network)->NetemAvailable());
  host.fail_on = "tbf";
  absl::Status shaped = (*network)->ShapeEgress(0, {1, 0, 1e6}, false);
  EXPECT_TRUE(absl::StrContains(shaped.message(), "unknown")) << shaped;
}

TEST(NetnsTest, RemovalToleratesWhatIsAlreadyGone) {
  FakeHost host;
  host.fail_on = "ts42h1";
  host.error = "Cannot find device \"ts42h1\"";
  NetnsResources r{{"ts42w1"}, {"ts42h1"}, "ts42br"};
  EXPECT_TRUE(RemoveNetns(r, host.Runner()).ok());
  host.error = "Operation not permitted";
  EXPECT_FALSE(RemoveNetns(r, host.Runner()).ok());
  EXPECT_EQ(host.commands.size(), 6u);  // went on after the failure
}

}  // namespace
}  // namespace tessera::sim
