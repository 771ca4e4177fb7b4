#include "sim/des.h"

#include <string>

#include "gtest/gtest.h"
#include "partitioner/baselines.h"
#include "sim/des_command.h"
#include "sim/planners.h"

namespace tessera::sim {
namespace {

namespace pt = ::tessera::partitioner;

// A hand-made stage: 2 layers, weights-bound at batch 1.
StageCosts MakeStage(double overhead, double prefill) {
  StageCosts s;
  s.overhead_ms = overhead;
  s.prefill_ms = prefill;
  s.layers = {{0.5, 2.0, 0.1}, {0.5, 2.0, 0.1}};
  return s;
}

DesOptions OneRequest(int64_t gen) {
  DesOptions o;
  o.requests = 1;
  o.concurrency = 1;
  o.prompt_tokens = 10;
  o.gen_tokens = gen;
  o.activation_bytes_per_token = 100;
  return o;
}

TEST(StageCosts, BatchPaysWeightsOnce) {
  StageCosts s = MakeStage(1.0, 5.0);
  EXPECT_DOUBLE_EQ(s.DecodeMs(1), 1.0 + 2 * 2.1);
  EXPECT_DOUBLE_EQ(s.DecodeMs(4), 1.0 + 2 * 2.4);
  EXPECT_DOUBLE_EQ(s.DecodeMs(10), 1.0 + 2 * 5.0);  // compute-bound
}

TEST(Des, SingleStageSingleRequestMatchesCostModel) {
  StageCosts s = MakeStage(1.0, 7.0);
  auto r = Simulate({s}, {SimLink{}}, OneRequest(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->mean_ttft_ms, 7.0);
  EXPECT_DOUBLE_EQ(r->mean_latency_ms, 7.0 + 4 * s.DecodeMs(1));
  EXPECT_NEAR(r->decode_tokens_per_s, 1e3 / s.DecodeMs(1), 1e-9);
  EXPECT_DOUBLE_EQ(r->mean_batch, 1.0);
}

TEST(Des, TwoStagesAddLinksAndTokenReturn) {
  StageCosts a = MakeStage(1.0, 7.0), b = MakeStage(0.5, 3.0);
  SimLink fwd{2.0, 1e5, 0, true}, back{3.0, 4e3, 0, true};  // 1 ms per 100 B / 4 B
  auto r = Simulate({a, b}, {fwd, back}, OneRequest(3));
  ASSERT_TRUE(r.ok()) << r.status();
  const double ttft = 7.0 + (2.0 + 10.0) + 3.0 + (3.0 + 1.0);
  const double round = a.DecodeMs(1) + (2.0 + 1.0) + b.DecodeMs(1) + (3.0 + 1.0);
  EXPECT_DOUBLE_EQ(r->mean_ttft_ms, ttft);
  EXPECT_DOUBLE_EQ(r->mean_latency_ms, ttft + 2 * round);
}

TEST(Des, ConcurrentSessionsBatchOnAStage) {
  StageCosts s = MakeStage(1.0, 1.0);
  DesOptions o = OneRequest(20);
  o.requests = 4;
  o.concurrency = 4;
  auto r = Simulate({s}, {SimLink{}}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->mean_batch, 3.0);
  // Batched decode beats four sequential streams.
  EXPECT_GT(r->tokens_per_s, 1e3 / s.DecodeMs(1) * 2);
}

TEST(Des, JitterIsSeededAndDeterministic) {
  StageCosts a = MakeStage(1.0, 7.0);
  SimLink l{2.0, 1e6, 1.0, true};
  DesOptions o = OneRequest(30);
  auto r1 = Simulate({a, a}, {l, l}, o), r2 = Simulate({a, a}, {l, l}, o);
  o.seed = 2;
  auto r3 = Simulate({a, a}, {l, l}, o);
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  EXPECT_EQ(r1->makespan_ms, r2->makespan_ms);
  EXPECT_NE(r1->makespan_ms, r3->makespan_ms);
}

TEST(Des, RejectsBadOptions) {
  DesOptions o = OneRequest(1);
  o.max_batch = 0;
  EXPECT_EQ(Simulate({MakeStage(1, 1)}, {SimLink{}}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Simulate({MakeStage(1, 1)}, {}, OneRequest(1)).ok());
}

// The whole chain on a catalogue cluster: one request, no jitter, equals the
// partitioner's closed-form predictions.
TEST(Des, CatalogueClusterMatchesPlanPredictions) {
  auto cluster = LoadSimCluster("configs/clusters/pi_cluster.textproto");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  pt::Workload w;
  w.prompt_tokens = 64;
  w.gen_tokens = 16;
  auto problem = ShapeProblem("tinyllama-1.1b", *cluster, w, pt::Objective::kLatency, "q4_0");
  ASSERT_TRUE(problem.ok()) << problem.status();
  for (const std::string& name : PlannerNames()) {
    auto plan = PlanWith(name, *problem, {});
    ASSERT_TRUE(plan.ok()) << plan.status();
    auto costs = BuildStageCosts(*problem, plan->stages);
    ASSERT_TRUE(costs.ok());
    DesOptions o;
    o.requests = 1;
    o.concurrency = 1;
    o.prompt_tokens = 64;
    o.gen_tokens = 16;
    o.activation_bytes_per_token = problem->costs.activation_bytes_per_token[1];
    auto r = Simulate(*costs, PipelineLinks(*cluster, plan->stages), o);
    ASSERT_TRUE(r.ok());
    EXPECT_NEAR(r->mean_ttft_ms, plan->predictions.ttft_ms, 1e-6 * r->mean_ttft_ms) << name;
    EXPECT_NEAR(r->mean_latency_ms, plan->predictions.request_latency_ms,
                1e-6 * r->mean_latency_ms) << name;
  }
}

}  // namespace
}  // namespace tessera::sim
