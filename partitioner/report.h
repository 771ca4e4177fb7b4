// Human-readable rendering of plans: the stage table with predictions, and a
// comparison of the plan with the baselines. Pure string formatting.
//
// Thread-safety: pure functions.
#ifndef TESSERA_PARTITIONER_REPORT_H_
#define TESSERA_PARTITIONER_REPORT_H_

#include <string>
#include <vector>

#include "partitioner/plan.h"
#include "partitioner/planner.h"
#include "partitioner/problem.h"

namespace tessera::partitioner {

// "0-9 q4_0, 10-21 q8_0": the layers of a stage grouped by format.
std::string DescribeFormats(const Stage& stage);

// The stages (device, backend, layers, formats, ends held, memory against
// budget) followed by the predictions and how the plan was found.
std::string FormatPlanTable(const Problem& problem, const Plan& plan);

// One row per plan (ours first): devices used, TTFT, decode ms/token,
// request latency, throughput, quality cost, fits, objective relative to
// ours ("+23.5%" means that baseline is 23.5% worse by the objective).
std::string FormatComparison(const Problem& problem, const PlanReport& report);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_REPORT_H_
