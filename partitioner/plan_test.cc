#include "partitioner/plan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::partitioner {
namespace {

using ::testing::HasSubstr;
using model::GgmlType;

// Two layers of 1 GB and 2 GFLOP each; devices a (10 GB/s, 1 ms overhead)
// and b (20 GB/s, 2 ms); links a->b 5 ms at 1 MB/s, b->a 3 ms at 1 MB/s.
Problem HandProblem() {
  Problem p;
  CostTable& c = p.costs;
  c.model_name = "hand";
  c.n_layers = 2;
  c.dim = 500;
  c.vocab_size = 10;
  c.formats = {GgmlType::kF16};
  c.layer_weight_bytes = {{1000000000}, {1000000000}};
  c.layer_flops_per_token = {2e9, 2e9};
  c.head_bytes = 1000000;
  c.head_format = GgmlType::kF16;
  c.activation_bytes_per_token = {2000, 1000, 0};
  for (const char* name : {"a", "b"}) {
    DeviceProfile d;
    d.name = name;
    d.memory_budget_bytes = 2000000000;
    d.step_overhead_ms = name[0] == 'a' ? 1 : 2;
    d.perf[GgmlType::kF16] = {name[0] == 'a' ? 10e9 : 20e9, 1e12};
    p.cluster.devices.push_back(d);
  }
  p.cluster.links = {{"a", "b", 5, 1e6}, {"b", "a", 3, 1e6}};
  p.workload = {10, 5, 2, ActivationCodec::kF16};
  p.quality = {"hand", c.formats, {{0.25}, {0.5}}};
  return p;
}

std::vector<Stage> TwoStages() {
  return {{0, 0, 1, {GgmlType::kF16}, true, false},
          {1, 1, 2, {GgmlType::kF16}, false, true}};
}

TEST(PlanTest, PredictionsMatchTheTimeModelByHand) {
  Problem p = HandProblem();
  ASSERT_TRUE(ValidateProblem(p).ok()) << ValidateProblem(p);
  CostGrid g = CostGrid::Build(p);
  auto r = Evaluate(p, g, TwoStages());
  ASSERT_TRUE(r.ok()) << r.status();
  // Stage a: 1 + 100 ms (1 GB at 10 GB/s); link 5 + 10 x 1 ms prefill, 5 + 1
  // per token; stage b: 2 + 50 + head 0.05 ms; return 3 + 0.004 ms.
  EXPECT_NEAR(r->ttft_ms, 101 + 15 + 52.05 + 3.004, 1e-9);
  EXPECT_NEAR(r->decode_ms_per_token, 101 + 6 + 52.05 + 3.004, 1e-9);
  EXPECT_NEAR(r->request_latency_ms, r->ttft_ms + 4 * r->decode_ms_per_token, 1e-9);
  // Busy ms per request (one prefill, G - 1 = 4 decode steps): stage a
  // 101 + 4 x 101 = 505, stage b 5 x 52.05 = 260.25, link (10 + 4) x 1 = 14,
  // return 5 x 0.004; per generated token the busiest is 505 / 5 = 101.
  // L = 171.054 + 4 x 162.054 = 819.27; cycle = (L / G + (k - 1) x 101) / k
  // = (163.854 + 101) / 2 = 132.427.
  EXPECT_NEAR(r->request_latency_ms, 819.27, 1e-9);
  EXPECT_NEAR(r->bottleneck_ms, 101, 1e-9);
  EXPECT_NEAR(r->cycle_ms, 132.427, 1e-9);
  EXPECT_NEAR(r->throughput_tokens_per_s, 1000.0 / 132.427, 1e-9);
  EXPECT_EQ(r->memory_bytes[0], 1000000000);
  EXPECT_EQ(r->memory_bytes[1], 1001000000);
  EXPECT_DOUBLE_EQ(r->quality_cost, 0.75);
  EXPECT_TRUE(r->fits);
  EXPECT_DOUBLE_EQ(r->objective, r->request_latency_ms);
}

TEST(PlanTest, ObjectivesAndBudgets) {
  Problem p = HandProblem();
  p.objective = Objective::kThroughput;
  CostGrid g = CostGrid::Build(p);
  EXPECT_NEAR(Evaluate(p, g, TwoStages())->objective, 132.427, 1e-9);
  p.objective = Objective::kMix;
  p.latency_weight = 0.25;
  auto mix = Evaluate(p, g, TwoStages());
  EXPECT_NEAR(mix->objective,
              0.25 * mix->request_latency_ms / 5 + 0.75 * mix->cycle_ms, 1e-9);
  p.quality_budget = 0.5;
  auto over = Evaluate(p, g, TwoStages());
  EXPECT_FALSE(over->fits);
  EXPECT_THAT(over->violation, HasSubstr("quality cost 0.75 exceeds the budget 0.5"));
  p = HandProblem();
  p.cluster.devices[1].memory_budget_bytes = 1000500000;
  g = CostGrid::Build(p);
  auto big = Evaluate(p, g, TwoStages());
  EXPECT_FALSE(big->fits);
  EXPECT_THAT(big->violation, HasSubstr("device b needs 1001000000 bytes"));
}

TEST(PlanTest, SingleStageHasNoLinks) {
  Problem p = HandProblem();
  CostGrid g = CostGrid::Build(p);
  auto r = Evaluate(p, g, {{1, 0, 2, {GgmlType::kF16, GgmlType::kF16}, true, true}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->decode_ms_per_token, 2 + 50 + 50 + 0.05, 1e-9);
  // One device serves the k streams one at a time, no overlap: the cycle is
  // its whole busy time per request over G (here prefill = decode step).
  EXPECT_NEAR(r->cycle_ms, r->request_latency_ms / 5, 1e-9);
  EXPECT_NEAR(r->cycle_ms, 102.05, 1e-9);
}

TEST(PlanTest, PrefillHeavyStageIsTheBottleneck) {
  // Device b at 5e10 FLOP/s: a decode step of a layer stays memory-bound
  // (max(2e9 / 5e10, 1 GB / 20 GB/s) = 50 ms) but the prefill of P = 10
  // tokens is compute-bound: 10 x 2e9 / 5e10 = 400 ms.
  Problem p = HandProblem();
  p.cluster.devices[1].perf[GgmlType::kF16].prefill_flop_per_s = 5e10;
  p.objective = Objective::kThroughput;
  CostGrid g = CostGrid::Build(p);
  auto r = Evaluate(p, g, TwoStages());
  ASSERT_TRUE(r.ok()) << r.status();
  // Decode steps: a 1 + 100 = 101 ms, b 2 + 50 + 0.05 = 52.05 ms, so the
  // old, decode-only bottleneck was a (101 ms; old cycle max(R / k, 101) =
  // 101). Per request b is busy for 402.05 + 4 x 52.05 = 610.25 ms, a for
  // 5 x 101 = 505 ms: b is the bottleneck at 610.25 / 5 = 122.05 ms/token.
  EXPECT_NEAR(r->ttft_ms, 101 + 15 + 402.05 + 3.004, 1e-9);
  EXPECT_NEAR(r->decode_ms_per_token, 101 + 6 + 52.05 + 3.004, 1e-9);
  EXPECT_NEAR(r->bottleneck_ms, 122.05, 1e-9);
  // L = 521.054 + 4 x 162.054 = 1169.27; cycle = (1169.27 / 5 + 122.05) / 2
  // = (233.854 + 122.05) / 2 = 177.952.
  EXPECT_NEAR(r->request_latency_ms, 1169.27, 1e-9);
  EXPECT_NEAR(r->cycle_ms, 177.952, 1e-9);
  EXPECT_NEAR(r->objective, 177.952, 1e-9);
  EXPECT_NEAR(r->throughput_tokens_per_s, 1000.0 / 177.952, 1e-9);
}

TEST(PlanTest, LatencyBoundWithFewRequestsInFlight) {
  // k = 1: one request at a time, the cycle is its latency per token.
  Problem p = HandProblem();
  p.workload.concurrent_requests = 1;
  CostGrid g = CostGrid::Build(p);
  auto r = Evaluate(p, g, TwoStages());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->bottleneck_ms, 101, 1e-9);
  EXPECT_NEAR(r->cycle_ms, 819.27 / 5, 1e-9);  // L / G: no overlap
}

TEST(PlanTest, RejectsMalformedPipelines) {
  Problem p = HandProblem();
  CostGrid g = CostGrid::Build(p);
  auto code = [&](std::vector<Stage> stages) {
    return Evaluate(p, g, stages).status().code();
  };
  const auto kBad = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code({}), kBad);
  EXPECT_EQ(code({{0, 0, 1, {GgmlType::kF16}}}), kBad);              // gap at the end
  EXPECT_EQ(code({{0, 0, 1, {GgmlType::kF16}}, {0, 1, 2, {GgmlType::kF16}}}), kBad);
  EXPECT_EQ(code({{0, 0, 2, {GgmlType::kF16}}}), kBad);              // 1 format, 2 layers
  EXPECT_EQ(code({{0, 0, 2, {GgmlType::kQ4_0, GgmlType::kF16}}}), kBad);
  EXPECT_EQ(code({{5, 0, 2, {GgmlType::kF16, GgmlType::kF16}}}), kBad);
  EXPECT_EQ(code({{0, 1, 2, {GgmlType::kF16}}}), kBad);              // not from 0
  p.cluster.links.pop_back();  // no way back from b to a
  g = CostGrid::Build(p);
  EXPECT_EQ(Evaluate(p, g, TwoStages()).status().code(), kBad);
}

TEST(PlanTest, MarkEnds) {
  std::vector<Stage> stages(3);
  MarkEnds(stages);
  EXPECT_TRUE(stages[0].holds_embedding && !stages[0].holds_head);
  EXPECT_TRUE(!stages[1].holds_embedding && !stages[1].holds_head);
  EXPECT_TRUE(stages[2].holds_head && !stages[2].holds_embedding);
}

}  // namespace
}  // namespace tessera::partitioner
