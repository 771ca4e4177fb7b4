#include "sim/netns.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace tessera::sim {
namespace {

constexpr int kFirstA = 64;
constexpr int kSpan = (254 - kFirstA) * 256;  // 10.64.0.0 - 10.253.255.0
constexpr size_t kMaxInterfaceName = 15;      // IFNAMSIZ - 1

// "a.b.c.d" or "a.b.c.d/n" as (address, prefix length); false otherwise.
bool ParsePrefix(absl::string_view text, uint32_t& address, int& bits) {
  bits = 32;
  std::vector<absl::string_view> parts = absl::StrSplit(text, '/');
  if (parts.size() > 2 ||
      (parts.size() == 2 &&
       (!absl::SimpleAtoi(parts[1], &bits) || bits < 0 || bits > 32))) {
    return false;
  }
  std::vector<absl::string_view> octets = absl::StrSplit(parts[0], '.');
  if (octets.size() != 4) return false;
  address = 0;
  for (absl::string_view o : octets) {
    int v = 0;
    if (!absl::SimpleAtoi(o, &v) || v < 0 || v > 255) return false;
    address = (address << 8) | static_cast<uint32_t>(v);
  }
  return true;
}

bool Overlaps(const Subnet24& s, const std::vector<std::string>& routes) {
  const uint32_t ours =
      (10u << 24) | (uint32_t(s.a) << 16) | (uint32_t(s.b) << 8);
  for (const std::string& route : routes) {
    uint32_t address = 0;
    int bits = 0;
    if (!ParsePrefix(route, address, bits)) continue;  // "default", IPv6
    const int common = std::min(bits, 24);
    const uint32_t mask = common == 0 ? 0 : ~uint32_t{0} << (32 - common);
    if ((address & mask) == (ours & mask)) return true;
  }
  return false;
}

bool AlreadyGone(const absl::Status& status) {
  return absl::StrContains(status.message(), "Cannot find device") ||
         absl::StrContains(status.message(), "No such file or directory");
}

std::vector<std::string> Ip(std::vector<std::string> args) {
  args.insert(args.begin(), kIpTool);
  return args;
}

}  // namespace

std::string Subnet24::Address(int host) const {
  return absl::StrCat("10.", a, ".", b, ".", host);
}

std::string Subnet24::Cidr(int host) const {
  return absl::StrCat(Address(host), "/24");
}

std::vector<std::string> RouteDestinations(absl::string_view ip_route_output) {
  static const char* const kTypes[] = {
      "unicast",     "local",     "broadcast", "multicast", "anycast",
      "unreachable", "blackhole", "prohibit",  "throw",     "nat"};
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(ip_route_output, '\n')) {
    std::vector<absl::string_view> words =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.empty()) continue;
    size_t i = 0;
    for (const char* type : kTypes) {
      if (words[0] == type && words.size() > 1) i = 1;
    }
    out.emplace_back(words[i]);
  }
  return out;
}

absl::StatusOr<Subnet24> ChooseSubnet(int64_t pid,
                                      const std::vector<std::string>& routes) {
  const int64_t start = (pid < 0 ? -pid : pid) % kSpan;
  for (int64_t k = 0; k < 256; ++k) {
    const int64_t index = (start + k) % kSpan;
    const Subnet24 candidate{kFirstA + static_cast<int>(index / 256),
                             static_cast<int>(index % 256)};
    if (!Overlaps(candidate, routes)) return candidate;
  }
  return absl::ResourceExhaustedError(
      "no free 10.x.y.0/24 for the emulated network: every candidate "
      "overlaps a route");
}

absl::StatusOr<NetnsLayout> MakeNetnsLayout(int64_t pid, int workers,
                                            const Subnet24& subnet) {
  if (pid <= 0 || workers < 1 || workers > 200) {
    return absl::InvalidArgumentError(absl::StrCat(
        "network namespaces: need pid > 0 and 1..200 workers, not pid ", pid,
        " and ", workers, " workers"));
  }
  NetnsLayout l;
  l.subnet = subnet;
  l.bridge = absl::StrCat("ts", pid, "br");
  for (int i = 1; i <= workers; ++i) {
    l.workers.push_back(
        {absl::StrCat("ts", pid, "w", i), absl::StrCat("ts", pid, "h", i),
         absl::StrCat("ts", pid, "n", i), subnet.Address(10 + i - 1)});
  }
  for (const std::string& name :
       {l.bridge, l.workers.back().host_veth, l.workers.back().ns_veth}) {
    if (name.size() > kMaxInterfaceName) {
      return absl::InvalidArgumentError(absl::StrCat(
          "interface name ", name, " is longer than 15 characters"));
    }
  }
  return l;
}

std::vector<std::vector<std::string>> BridgeCommands(const NetnsLayout& l) {
  return {Ip({"link", "add", l.bridge, "type", "bridge"}),
          Ip({"addr", "add", l.subnet.Cidr(1), "dev", l.bridge}),
          Ip({"link", "set", l.bridge, "up"})};
}

std::vector<std::vector<std::string>> WorkerNetnsCommands(const NetnsLayout& l,
                                                          int worker) {
  const NetnsLayout::Worker& w = l.workers[worker];
  return {Ip({"netns", "add", w.netns}),
          Ip({"link", "add", w.host_veth, "type", "veth", "peer", "name",
              w.ns_veth, "netns", w.netns}),
          Ip({"link", "set", w.host_veth, "master", l.bridge}),
          Ip({"link", "set", w.host_veth, "up"}),
          Ip({"-n", w.netns, "addr", "add", absl::StrCat(w.address, "/24"),
              "dev", w.ns_veth}),
          Ip({"-n", w.netns, "link", "set", w.ns_veth, "up"}),
          Ip({"-n", w.netns, "link", "set", "lo", "up"})};
}

std::vector<std::string> ShapeCommand(const std::string& netns,
                                      const std::string& dev,
                                      const EgressShape& shape, bool netem) {
  std::vector<std::string> argv = {kTcTool, "-n",  netns, "qdisc",
                                   "add",   "dev", dev,   "root"};
  const int64_t bits_per_s =
      static_cast<int64_t>(shape.bandwidth_bytes_per_s * 8);
  if (netem) {
    if (shape.latency_ms <= 0 && shape.jitter_ms <= 0 && bits_per_s <= 0) {
      return {};
    }
    argv.insert(argv.end(),
                {"netem", "delay", absl::StrFormat("%.3fms", shape.latency_ms),
                 absl::StrFormat("%.3fms", shape.jitter_ms), "distribution",
                 "normal", "limit", "100000"});
    if (bits_per_s > 0) {
      argv.insert(argv.end(), {"rate", absl::StrCat(bits_per_s, "bit")});
    }
    return argv;
  }
  if (bits_per_s <= 0) return {};
  // A burst of 1 ms of traffic (at least 32 KiB: the largest veth packets
  // are split to fit); a queue of 0.5 s (at least 4 MiB) so that a probe's
  // megabyte queues rather than drops.
  const double rate = shape.bandwidth_bytes_per_s;
  const int64_t burst = std::max<int64_t>(32 << 10, rate / 1000);
  const int64_t limit = std::max<int64_t>(4 << 20, rate / 2);
  argv.insert(argv.end(),
              {"tbf", "rate", absl::StrCat(bits_per_s, "bit"), "burst",
               absl::StrCat(burst), "limit", absl::StrCat(limit)});
  return argv;
}

std::vector<std::vector<std::string>> RemovalCommands(const NetnsResources& r) {
  std::vector<std::vector<std::string>> commands;
  for (const std::string& veth : r.veths) {
    commands.push_back(Ip({"link", "del", veth}));
  }
  for (const std::string& ns : r.netns) {
    commands.push_back(Ip({"netns", "del", ns}));
  }
  if (!r.bridge.empty()) commands.push_back(Ip({"link", "del", r.bridge}));
  return commands;
}

absl::Status RemoveNetns(const NetnsResources& r, const CommandRunner& run) {
  absl::Status first;
  for (const auto& argv : RemovalCommands(r)) {
    absl::Status status = run(argv).status();
    if (!status.ok() && !AlreadyGone(status) && first.ok()) first = status;
  }
  return first;
}

absl::Status CheckNetnsUsable(const CommandRunner& run) {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError("not running as root");
  }
  for (const char* tool : {kIpTool, kTcTool}) {
    if (access(tool, X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(tool, " is missing"));
    }
  }
  absl::Status listed = run(Ip({"netns", "list"})).status();
  if (!listed.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("`ip netns` does not work: ", listed.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NetnsNetwork>> NetnsNetwork::Create(
    int64_t pid, int workers, CommandRunner run) {
  TESSERA_ASSIGN_OR_RETURN(std::string routes,
                           run(Ip({"-4", "route", "show", "table", "all"})));
  TESSERA_ASSIGN_OR_RETURN(Subnet24 subnet,
                           ChooseSubnet(pid, RouteDestinations(routes)));
  TESSERA_ASSIGN_OR_RETURN(NetnsLayout layout,
                           MakeNetnsLayout(pid, workers, subnet));
  std::unique_ptr<NetnsNetwork> network(
      new NetnsNetwork(std::move(layout), std::move(run)));
  TESSERA_RETURN_IF_ERROR_CTX(network->Build(),
                              "setting up network namespaces");
  return network;
}

absl::Status NetnsNetwork::Build() {
  // Each resource is recorded before it is made, so that a half-made one
  // is removed too (removal tolerates what does not exist).
  made_.bridge = layout_.bridge;
  TESSERA_RETURN_IF_ERROR(Run(BridgeCommands(layout_)));
  for (size_t i = 0; i < layout_.workers.size(); ++i) {
    made_.netns.push_back(layout_.workers[i].netns);
    made_.veths.push_back(layout_.workers[i].host_veth);
    TESSERA_RETURN_IF_ERROR(Run(WorkerNetnsCommands(layout_, i)));
  }
  return absl::OkStatus();
}

absl::Status NetnsNetwork::Run(
    const std::vector<std::vector<std::string>>& commands) {
  for (const auto& argv : commands)
    TESSERA_RETURN_IF_ERROR(run_(argv).status());
  return absl::OkStatus();
}

NetnsNetwork::~NetnsNetwork() {
  if (made_.empty()) return;
  absl::Status removed = RemoveNetns(made_, run_);
  if (!removed.ok()) {
    LOG(WARNING) << "removing the emulated network: " << removed.message();
  }
}

bool NetnsNetwork::NetemAvailable() {
  const std::string& dev = layout_.bridge;
  if (!run_({kTcTool, "qdisc", "add", "dev", dev, "root", "netem", "delay",
             "0ms"})
           .ok()) {
    return false;
  }
  run_({kTcTool, "qdisc", "del", "dev", dev, "root"}).IgnoreError();
  return true;
}

absl::Status NetnsNetwork::ShapeEgress(int worker, const EgressShape& shape,
                                       bool netem) {
  const NetnsLayout::Worker& w = layout_.workers[worker];
  std::vector<std::string> argv =
      ShapeCommand(w.netns, w.ns_veth, shape, netem);
  if (argv.empty()) return absl::OkStatus();
  return run_(argv).status();
}

std::vector<std::string> NetnsNetwork::ExecPrefix(int worker) const {
  return {kIpTool, "netns", "exec", layout_.workers[worker].netns};
}

NetnsResources NetnsNetwork::Release() {
  NetnsResources r = std::move(made_);
  made_ = NetnsResources();
  return r;
}

}  // namespace tessera::sim
