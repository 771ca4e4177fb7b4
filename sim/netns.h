// Network namespaces for an emulated cluster (tessera-sim --network netns):
// one namespace per worker, joined to the root namespace by a veth pair
// whose root end is a port of a bridge carrying the first address of a
// private /24. The coordinator stays in the root namespace and reaches every
// worker through the bridge; workers reach each other the same way.
//
//   root namespace:   bridge ts<pid>br  10.A.B.1/24
//                       port ts<pid>h<i> ==veth== ts<pid>n<i>  10.A.B.(10+i)/24
//                                                 in namespace ts<pid>w<i>
//
// A worker's link to the next device is shaped on its egress (the namespace
// end of its veth, so everything the worker sends passes it): bandwidth by
// tc tbf, or latency, jitter and rate by tc netem where the kernel has
// sch_netem. Without netem the worker delays its own sends
// (tessera-worker --emulate-link LAT:0:JITTER, sim/emulation.h).
//
// Traffic into a namespace is not shaped, so a round trip a -> b -> a
// passes a's shaping one way and b's the other: a link probe between two
// workers measures the mean of their links (the coordinator -> first stage
// hop, where the coordinator stands in for the first device, is unshaped).
//
// Everything here runs `ip`/`tc` through a CommandRunner; needs root.
// Thread-compatible.
#ifndef TESSERA_SIM_NETNS_H_
#define TESSERA_SIM_NETNS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sim/command_runner.h"

namespace tessera::sim {

inline constexpr char kIpTool[] = "/usr/sbin/ip";
inline constexpr char kTcTool[] = "/usr/sbin/tc";

// A private IPv4 /24, 10.a.b.0/24.
struct Subnet24 {
  int a = 0;
  int b = 0;
  std::string Address(int host) const;  // "10.a.b.host"
  std::string Cidr(int host) const;     // "10.a.b.host/24"
};

// The destination prefixes of `ip -4 route show table all` output (first
// word of each line: "10.0.0.0/8", "192.168.1.7", "default", ...).
std::vector<std::string> RouteDestinations(absl::string_view ip_route_output);

// A /24 in 10.64.0.0 - 10.253.255.0 derived from `pid`, the next ones
// tried in turn while one overlaps a destination of `routes` ("default"
// overlaps nothing). ResourceExhausted when 256 candidates all collide.
absl::StatusOr<Subnet24> ChooseSubnet(int64_t pid,
                                      const std::vector<std::string>& routes);

// Names and addresses of a cluster's namespaces (see the file comment).
struct NetnsLayout {
  struct Worker {
    std::string netns;      // ts<pid>w<i>
    std::string host_veth;  // ts<pid>h<i>, a port of the bridge
    std::string ns_veth;    // ts<pid>n<i>, inside the namespace
    std::string address;    // 10.A.B.(10+i)
  };
  std::string bridge;  // ts<pid>br
  Subnet24 subnet;
  std::vector<Worker> workers;
  std::string bridge_address() const { return subnet.Address(1); }
};

// InvalidArgument for workers outside [1, 200] or pid <= 0 (names are at
// most 15 characters, the kernel's limit for interfaces).
absl::StatusOr<NetnsLayout> MakeNetnsLayout(int64_t pid, int workers,
                                            const Subnet24& subnet);

// The command lines creating the bridge, and one worker's namespace and
// veth (in order).
std::vector<std::vector<std::string>> BridgeCommands(const NetnsLayout& l);
std::vector<std::vector<std::string>> WorkerNetnsCommands(const NetnsLayout& l,
                                                          int worker);

// How one worker's egress is shaped in the kernel.
struct EgressShape {
  double latency_ms = 0;
  double jitter_ms = 0;
  double bandwidth_bytes_per_s = 0;  // 0: unlimited
};

// The tc command line shaping `dev` in `netns`: netem delay/jitter/rate
// when `netem`, else tbf at the bandwidth (latency and jitter ignored).
// Empty when there is nothing to shape.
std::vector<std::string> ShapeCommand(const std::string& netns,
                                      const std::string& dev,
                                      const EgressShape& shape, bool netem);

// What to remove: recorded in `tessera-sim up`'s state file.
struct NetnsResources {
  std::vector<std::string> netns;
  std::vector<std::string> veths;  // root-namespace ends
  std::string bridge;              // empty if none
  bool empty() const {
    return netns.empty() && veths.empty() && bridge.empty();
  }
};

// Command lines removing `r`: the veths, the namespaces, then the bridge.
std::vector<std::vector<std::string>> RemovalCommands(const NetnsResources& r);

// Runs RemovalCommands, going on after failures; errors for things already
// gone ("Cannot find device", "No such file") are not failures. The first
// other error, if any.
absl::Status RemoveNetns(const NetnsResources& r, const CommandRunner& run);

// Whether `ip netns` works here: we are root and `ip netns list` runs. The
// reason otherwise (FailedPrecondition).
absl::Status CheckNetnsUsable(const CommandRunner& run);

// The namespaces of a LocalCluster, removed on destruction unless
// released. See the file comment.
class NetnsNetwork {
 public:
  // Chooses a subnet (from `ip -4 route`), then creates the bridge and one
  // namespace per worker. On failure removes what it made and returns the
  // failing command's error.
  static absl::StatusOr<std::unique_ptr<NetnsNetwork>> Create(
      int64_t pid, int workers, CommandRunner run);
  ~NetnsNetwork();

  NetnsNetwork(const NetnsNetwork&) = delete;
  NetnsNetwork& operator=(const NetnsNetwork&) = delete;

  // Whether tc can attach netem here: tries it on the bridge, removes it.
  bool NetemAvailable();
  // Shapes worker i's egress (ShapeCommand). The tc error on failure.
  absl::Status ShapeEgress(int worker, const EgressShape& shape, bool netem);

  const NetnsLayout& layout() const { return layout_; }
  // The argv prefix running a command in worker i's namespace.
  std::vector<std::string> ExecPrefix(int worker) const;
  // Hands the namespaces over (e.g. to `tessera-sim down`): they are no
  // longer removed on destruction.
  NetnsResources Release();

 private:
  NetnsNetwork(NetnsLayout layout, CommandRunner run)
      : layout_(std::move(layout)), run_(std::move(run)) {}
  absl::Status Build();
  absl::Status Run(const std::vector<std::vector<std::string>>& commands);

  NetnsLayout layout_;
  CommandRunner run_;
  NetnsResources made_;  // what exists and is still ours
};

}  // namespace tessera::sim

#endif  // TESSERA_SIM_NETNS_H_
