// The planner against brute-force enumeration of every plan (device
// sequence, contiguous split, format of every layer) on random instances of
// up to 4 devices, 8 layers and 3 formats, for all three objectives, with
// and without quality budgets, tight memory and missing links.
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "partitioner/lower_bound.h"
#include "partitioner/order_search.h"
#include "partitioner/planner.h"
#include "partitioner/test_util.h"

namespace tessera::partitioner {
namespace {

struct BruteResult {
  bool found = false;
  double objective = std::numeric_limits<double>::infinity();
  int64_t plans = 0;
};

class BruteForce {
 public:
  BruteForce(const Problem& p, const CostGrid& g) : p_(p), g_(g) {}

  // Every plan; `order`, when given, restricts to subsequences of it that
  // start with order[0] (what SolveOrder searches).
  BruteResult Run(const std::vector<int>* order = nullptr) {
    order_ = order;
    used_.assign(g_.num_devices(), false);
    Extend(0);
    return result_;
  }

 private:
  bool Allowed(int d) const {
    if (used_[d]) return false;
    if (order_ == nullptr) return true;
    if (stages_.empty()) return d == (*order_)[0];
    int last = -1, pos = -1;
    for (size_t i = 0; i < order_->size(); ++i) {
      if ((*order_)[i] == stages_.back().device) last = static_cast<int>(i);
      if ((*order_)[i] == d) pos = static_cast<int>(i);
    }
    return pos > last;
  }

  void Extend(int64_t first) {
    if (first == g_.num_layers()) return Score();
    for (int d = 0; d < g_.num_devices(); ++d) {
      if (!Allowed(d)) continue;
      used_[d] = true;
      for (int64_t end = first + 1; end <= g_.num_layers(); ++end) {
        Stage s;
        s.device = d;
        s.first_layer = first;
        s.end_layer = end;
        s.formats.resize(end - first);
        stages_.push_back(s);
        AssignFormats(0, first, end);
        stages_.pop_back();
      }
      used_[d] = false;
    }
  }

  void AssignFormats(int64_t i, int64_t first, int64_t end) {
    if (first + i == end) return Extend(end);
    const int device = stages_.back().device;  // stages_ may reallocate below
    for (int f = 0; f < g_.num_formats(); ++f) {
      if (!g_.supported(device, f)) continue;
      stages_.back().formats[i] = p_.costs.formats[f];
      AssignFormats(i + 1, first, end);
    }
  }

  void Score() {
    ++result_.plans;
    auto r = Evaluate(p_, g_, stages_);
    if (!r.ok() || !r->fits) return;
    if (r->objective < result_.objective) {
      result_.found = true;
      result_.objective = r->objective;
    }
  }

  const Problem& p_;
  const CostGrid& g_;
  const std::vector<int>* order_ = nullptr;
  std::vector<bool> used_;
  std::vector<Stage> stages_;
  BruteResult result_;
};

SearchOptions Untrimmed() {
  SearchOptions o;
  o.max_labels = 1 << 20;
  o.lagrangian_max_labels = 1 << 20;
  o.max_sequences = 1 << 30;
  o.max_exact_label_work = int64_t{1} << 50;
  return o;
}

void ExpectSame(double got, double want, uint64_t seed) {
  EXPECT_NEAR(got, want, 1e-9 * std::max(1.0, std::fabs(want))) << "seed " << seed;
}

void CheckProblem(const Problem& p, uint64_t seed) {
  ASSERT_TRUE(ValidateProblem(p).ok()) << seed;
  CostGrid g = CostGrid::Build(p);
  BruteResult brute = BruteForce(p, g).Run();
  // The DP with the exhaustive order search alone, without baseline seeds.
  SearchResult dp = ExhaustiveSearch(p, g, Untrimmed(),
                                     std::numeric_limits<double>::infinity());
  ASSERT_EQ(dp.found, brute.found) << "seed " << seed;
  EXPECT_TRUE(dp.complete);
  EXPECT_FALSE(dp.trimmed);
  auto plan = SolvePlan(p, Untrimmed());
  ASSERT_EQ(plan.ok(), brute.found) << "seed " << seed << ": " << plan.status();
  if (!brute.found) return;
  ExpectSame(dp.objective, brute.objective, seed);
  ExpectSame(plan->predictions.objective, brute.objective, seed);
  EXPECT_TRUE(plan->predictions.fits) << seed;
  EXPECT_TRUE(plan->optimal) << seed;
  // The relaxation bound must never exceed the true optimum.
  EXPECT_LE(ObjectiveLowerBound(p, g), brute.objective * (1 + 1e-9)) << seed;
}

void CheckInstance(uint64_t seed, const testing::RandomSpec& spec) {
  CheckProblem(testing::RandomProblem(seed, spec), seed);
}

TEST(BruteForceTest, SmallInstancesMatchExactly) {
  testing::RandomSpec spec{3, 6, 3, true};
  for (uint64_t seed = 1; seed <= 3000; ++seed) CheckInstance(seed, spec);
}

TEST(BruteForceTest, MixedSizeInstancesMatchExactly) {
  // Up to 4 devices, 8 layers, 3 formats (sizes drawn per instance).
  testing::RandomSpec spec{4, 8, 3, true};
  for (uint64_t seed = 10001; seed <= 10150; ++seed) CheckInstance(seed, spec);
}

TEST(BruteForceTest, FullSizeInstancesMatchExactly) {
  // Exactly 4 devices x 8 layers x 3 formats: 9.4 million plans each.
  // Each objective, with and without a quality budget.
  testing::RandomSpec spec{4, 8, 3, true, /*full_size=*/true};
  for (uint64_t seed = 5001; seed <= 5004; ++seed) {
    Problem p = testing::RandomProblem(seed, spec);
    p.objective = static_cast<Objective>(seed % 3);
    if (seed % 2 == 0) p.quality_budget = std::numeric_limits<double>::infinity();
    if (seed % 2 == 1) p.quality_budget = 0.3 * p.costs.n_layers;
    CheckProblem(p, seed);
  }
}

TEST(BruteForceTest, SolveOrderIsExactForItsOrder) {
  testing::RandomSpec spec{4, 6, 3, true};
  for (uint64_t seed = 2001; seed <= 2100; ++seed) {
    Problem p = testing::RandomProblem(seed, spec);
    CostGrid g = CostGrid::Build(p);
    std::vector<int> order;
    for (int d = g.num_devices() - 1; d >= 0; --d) order.push_back(d);
    BruteResult brute = BruteForce(p, g).Run(&order);
    SearchResult dp = SolveOrder(p, g, order, 1 << 20,
                                 std::numeric_limits<double>::infinity());
    ASSERT_EQ(dp.found, brute.found) << "seed " << seed;
    if (brute.found) ExpectSame(dp.objective, brute.objective, seed);
  }
}

TEST(BruteForceTest, HeuristicIsNeverBelowOptimumAndBoundIsValid) {
  testing::RandomSpec spec{4, 6, 3, true};
  SearchOptions heuristic = Untrimmed();
  heuristic.max_exact_devices = 0;  // force the large-cluster path
  int matched = 0, total = 0;
  for (uint64_t seed = 3001; seed <= 3100; ++seed) {
    Problem p = testing::RandomProblem(seed, spec);
    CostGrid g = CostGrid::Build(p);
    BruteResult brute = BruteForce(p, g).Run();
    auto plan = SolvePlan(p, heuristic);
    if (!brute.found) {
      EXPECT_FALSE(plan.ok()) << seed;
      continue;
    }
    if (!plan.ok()) continue;  // a heuristic may miss a narrow feasible plan
    ++total;
    EXPECT_GE(plan->predictions.objective, brute.objective * (1 - 1e-9)) << seed;
    EXPECT_LE(plan->lower_bound, brute.objective * (1 + 1e-9)) << seed;
    EXPECT_FALSE(plan->optimal);
    if (plan->predictions.objective <= brute.objective * (1 + 1e-9)) ++matched;
  }
  // On clusters this small the local search should nearly always succeed.
  EXPECT_GE(matched, total * 9 / 10) << matched << " of " << total;
}

}  // namespace
}  // namespace tessera::partitioner
