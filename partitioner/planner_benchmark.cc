// Planner speed on regular synthetic problems (test_util.h): a llama-like
// model with a quality budget, devices of four kinds on one shared network.
// Targets (issue 4): 16 devices x 32 layers x 4 formats <= 100 ms;
// 64 devices x 80 layers <= 2 s. Counters report how good the plan is:
// gap_pct = (objective - lower bound) / objective, optimal = proven.
//
//   build-x/partitioner/tessera_partitioner_benchmark --benchmark_format=json
#include "benchmark/benchmark.h"
#include "common/logging.h"
#include "partitioner/planner.h"
#include "partitioner/test_util.h"

namespace tessera::partitioner {
namespace {

void RunPlanner(benchmark::State& state, Objective objective) {
  const int devices = static_cast<int>(state.range(0));
  const int layers = static_cast<int>(state.range(1));
  const int formats = static_cast<int>(state.range(2));
  Problem problem = testing::RegularProblem(devices, layers, formats);
  problem.objective = objective;
  problem.workload.concurrent_requests = 4;
  Plan plan;
  for (auto _ : state) {
    auto result = SolvePlan(problem);
    CHECK(result.ok()) << result.status();
    plan = *std::move(result);
    benchmark::DoNotOptimize(plan);
  }
  const double objective_value = plan.predictions.objective;
  state.counters["objective"] = objective_value;
  state.counters["gap_pct"] =
      100.0 * (objective_value - plan.lower_bound) / objective_value;
  state.counters["optimal"] = plan.optimal ? 1 : 0;
  state.counters["stages"] = static_cast<double>(plan.stages.size());
  state.counters["orders"] = static_cast<double>(plan.orders_evaluated);
}

void BM_PlanLatency(benchmark::State& state) {
  RunPlanner(state, Objective::kLatency);
}
void BM_PlanThroughput(benchmark::State& state) {
  RunPlanner(state, Objective::kThroughput);
}
void BM_PlanMix(benchmark::State& state) { RunPlanner(state, Objective::kMix); }

#define TESSERA_PLANNER_SIZES                                       \
  Args({4, 22, 3})->Args({8, 32, 3})->Args({16, 32, 4})->Args({64, 80, 4}) \
      ->Unit(benchmark::kMillisecond)

BENCHMARK(BM_PlanLatency)->TESSERA_PLANNER_SIZES;
BENCHMARK(BM_PlanThroughput)->TESSERA_PLANNER_SIZES;
BENCHMARK(BM_PlanMix)->TESSERA_PLANNER_SIZES;

}  // namespace
}  // namespace tessera::partitioner
