// Measuring the network between workers for the planner. Each measurement
// is WorkerService.MeasureLink run on the sending worker (median round trip
// of empty probes, then a payload each way), so it covers the path the
// activations take, emulated links included.
//
// Up to `max_all_pairs` workers every ordered pair is measured and pairs
// that cannot be measured are left out (the planner will not chain them).
// Larger clusters measure each worker's link to the next one in list order
// (and the last to the first) and plan the remaining pairs with the median
// of what was measured.
//
// Thread-safety: SurveyLinks makes blocking calls; the rest are pure.
#ifndef TESSERA_COORDINATOR_LINK_SURVEY_H_
#define TESSERA_COORDINATOR_LINK_SURVEY_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/worker_client.h"
#include "partitioner/cluster.h"

namespace tessera::coordinator {

struct LinkSurvey {
  std::vector<partitioner::LinkProfile> links;  // measured, by planner name
  std::optional<partitioner::LinkProfile> default_link;  // unmeasured pairs
  std::vector<std::string> failures;  // "a -> b: reason", for the log
};

// The ordered (from, to) pairs measured among n workers.
std::vector<std::pair<int, int>> PairsToSurvey(int n, int max_all_pairs);

// One measurement as the planner sees it: one-way latency = round trip / 2.
partitioner::LinkProfile LinkFromMeasurement(
    const std::string& from, const std::string& to,
    const v1::MeasureLinkResponse& measured);

// The median latency and bandwidth of `links`; nullopt when empty.
std::optional<partitioner::LinkProfile> MedianLink(
    const std::vector<partitioner::LinkProfile>& links);

// Measures the pairs above. `names` are the workers' planner names (unique,
// one per worker). Never fails: a pair that cannot be measured is recorded
// in `failures`.
LinkSurvey SurveyLinks(const std::vector<WorkerClient*>& workers,
                       const std::vector<std::string>& names,
                       int max_all_pairs = 8);

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_LINK_SURVEY_H_
