#include "coordinator/link_survey.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tessera::coordinator {
namespace {

namespace pt = ::tessera::partitioner;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::vector<std::pair<int, int>> PairsToSurvey(int n, int max_all_pairs) {
  std::vector<std::pair<int, int>> pairs;
  if (n < 2) return pairs;
  if (n <= max_all_pairs) {
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) {
        if (a != b) pairs.emplace_back(a, b);
      }
    }
    return pairs;
  }
  for (int a = 0; a < n; ++a) pairs.emplace_back(a, (a + 1) % n);
  return pairs;
}

pt::LinkProfile LinkFromMeasurement(const std::string& from,
                                    const std::string& to,
                                    const v1::MeasureLinkResponse& measured) {
  return {from, to, measured.latency_us() / 2000.0, measured.bytes_per_second()};
}

std::optional<pt::LinkProfile> MedianLink(
    const std::vector<pt::LinkProfile>& links) {
  if (links.empty()) return std::nullopt;
  std::vector<double> latency, bandwidth;
  for (const pt::LinkProfile& l : links) {
    latency.push_back(l.latency_ms);
    bandwidth.push_back(l.bandwidth_bytes_per_s);
  }
  return pt::LinkProfile{"", "", Median(latency), Median(bandwidth)};
}

LinkSurvey SurveyLinks(const std::vector<WorkerClient*>& workers,
                       const std::vector<std::string>& names,
                       int max_all_pairs) {
  const int n = static_cast<int>(workers.size());
  LinkSurvey survey;
  for (const auto& [a, b] : PairsToSurvey(n, max_all_pairs)) {
    absl::StatusOr<v1::MeasureLinkResponse> measured =
        workers[a]->MeasureLink(workers[b]->address());
    if (!measured.ok() || !(measured->bytes_per_second() > 0)) {
      survey.failures.push_back(absl::StrCat(
          names[a], " -> ", names[b], ": ",
          measured.ok() ? "no bandwidth measured" : measured.status().message()));
      continue;
    }
    survey.links.push_back(LinkFromMeasurement(names[a], names[b], *measured));
  }
  if (n > max_all_pairs) survey.default_link = MedianLink(survey.links);
  return survey;
}

}  // namespace tessera::coordinator
