// An SVG chart of simulation results: per planner, a timeline of each
// stage's busy periods (prefill and decode batches in different colours,
// darker for larger batches) on a common time axis, and a bar chart of
// tokens/s per planner. Self-contained SVG 1.1 text, no scripts.
//
// Thread-safety: pure function.
#ifndef TESSERA_SIM_SVG_CHART_H_
#define TESSERA_SIM_SVG_CHART_H_

#include <string>
#include <vector>

#include "sim/des.h"

namespace tessera::sim {

struct ChartSeries {
  std::string planner;
  double tokens_per_s = 0;
  std::vector<std::string> stage_names;  // device of each stage
  std::vector<BusyInterval> timeline;
};

std::string RenderSvg(const std::string& title,
                      const std::vector<ChartSeries>& series);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_SVG_CHART_H_
