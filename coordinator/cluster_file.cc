#include "coordinator/cluster_file.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/mapped_file.h"
#include "common/status_macros.h"
#include "common/text_proto.h"
#include "tessera/v1/cluster.pb.h"

namespace tessera::coordinator {
namespace {

namespace pt = ::tessera::partitioner;

absl::Status Invalid(const std::string& where, const std::string& field,
                     const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", field, ": ", problem));
}

absl::StatusOr<ClusterMember> MemberFromProto(const v1::DeviceProfile& d,
                                              int index,
                                              const std::string& where) {
  const std::string field = absl::StrCat("devices[", index, "] (", d.name(), ")");
  if (d.name().empty()) return Invalid(where, field, "name is empty");
  absl::Status address = ValidateAddress(d.address());
  if (!address.ok()) {
    return Invalid(where, field + ".address", std::string(address.message()));
  }
  if (d.memory_budget_bytes() < 0) {
    return Invalid(where, field + ".memory_budget_bytes",
                   absl::StrCat("must be >= 0, got ", d.memory_budget_bytes()));
  }
  return ClusterMember{d.name(), d.address(), d.memory_budget_bytes()};
}

absl::Status CheckLinkFigures(const v1::LinkProfile& l, const std::string& where,
                              const std::string& field) {
  if (!(l.latency_ms() >= 0)) {
    return Invalid(where, field + ".latency_ms",
                   absl::StrCat("must be >= 0, got ", l.latency_ms()));
  }
  if (!(l.bandwidth_bytes_per_s() > 0)) {
    return Invalid(where, field + ".bandwidth_bytes_per_s",
                   absl::StrCat("must be > 0, got ", l.bandwidth_bytes_per_s()));
  }
  return absl::OkStatus();
}

absl::Status AddLinks(const v1::Cluster& proto, const std::string& where,
                      const absl::flat_hash_set<std::string>& names,
                      ClusterFile& out) {
  for (int i = 0; i < proto.links_size(); ++i) {
    const v1::LinkProfile& l = proto.links(i);
    const std::string field = absl::StrCat("links[", i, "]");
    for (const std::string* end : {&l.from(), &l.to()}) {
      if (!names.contains(*end)) {
        return Invalid(where, field, absl::StrCat("unknown device '", *end, "'"));
      }
    }
    if (l.from() == l.to()) return Invalid(where, field, "from and to are equal");
    TESSERA_RETURN_IF_ERROR(CheckLinkFigures(l, where, field));
    out.links.push_back({l.from(), l.to(), l.latency_ms(), l.bandwidth_bytes_per_s()});
    if (l.both_directions()) {
      out.links.push_back({l.to(), l.from(), l.latency_ms(), l.bandwidth_bytes_per_s()});
    }
  }
  if (proto.has_default_link()) {
    const v1::LinkProfile& l = proto.default_link();
    TESSERA_RETURN_IF_ERROR(CheckLinkFigures(l, where, "default_link"));
    out.default_link = pt::LinkProfile{"", "", l.latency_ms(), l.bandwidth_bytes_per_s()};
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected HOST:PORT, got '", address, "'"));
  }
  const std::string host = address.substr(0, colon);
  const bool bracketed = host.front() == '[' && host.back() == ']';
  if (!bracketed && host.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an IPv6 host needs brackets ([::1]:PORT), got '", address, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ClusterFile> ParseClusterFile(const std::string& text,
                                             const std::string& where) {
  v1::Cluster proto;
  TESSERA_RETURN_IF_ERROR(ParseTextProto(text, where, &proto));
  if (proto.devices_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": no devices"));
  }
  ClusterFile out;
  out.name = proto.name();
  absl::flat_hash_set<std::string> names, addresses;
  for (int i = 0; i < proto.devices_size(); ++i) {
    TESSERA_ASSIGN_OR_RETURN(ClusterMember m,
                             MemberFromProto(proto.devices(i), i, where));
    const std::string field = absl::StrCat("devices[", i, "] (", m.name, ")");
    if (!names.insert(m.name).second) {
      return Invalid(where, field, "the name is used twice");
    }
    if (!addresses.insert(m.address).second) {
      return Invalid(where, field + ".address",
                     absl::StrCat("'", m.address, "' is used twice"));
    }
    out.members.push_back(std::move(m));
  }
  TESSERA_RETURN_IF_ERROR(AddLinks(proto, where, names, out));
  return out;
}

absl::StatusOr<ClusterFile> LoadClusterFile(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseClusterFile(text, path);
}

}  // namespace tessera::coordinator
