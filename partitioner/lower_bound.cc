#include "partitioner/lower_bound.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "partitioner/plan.h"

namespace tessera::partitioner {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using CostFn = double (CostGrid::*)(int, int, int) const;

// Bytes a device can give to layers in the relaxation.
double Capacity(const CostGrid& g, int d) {
  return std::max(0.0, g.device(d).budget_bytes - g.device(d).stage_bytes);
}

struct Scales {
  double cost = 0, bytes = 0, quality = 0;
};

Scales ComputeScales(const CostGrid& g, CostFn cost) {
  Scales s;
  for (int l = 0; l < g.num_layers(); ++l) {
    double c = kInf, b = 0, q = 0;
    for (int f = 0; f < g.num_formats(); ++f) {
      b = std::max(b, g.bytes(l, f));
      q = std::max(q, g.quality(l, f));
      for (int d = 0; d < g.num_devices(); ++d) {
        if (g.supported(d, f)) c = std::min(c, (g.*cost)(d, l, f));
      }
    }
    s.cost += std::isfinite(c) ? c : 0;
    s.bytes += b;
    s.quality += q;
  }
  return s;
}

// sum_l min_{d,f} (c + mu_d b + lambda q) for given multipliers; adds the
// bytes and quality of each layer's choice to `load` and `quality`.
// -infinity when no device can hold a layer at all.
double AssignLayers(const CostGrid& g, CostFn cost, const std::vector<double>& mu,
                    double lambda, std::vector<double>& load, double& quality) {
  double value = 0;
  for (int l = 0; l < g.num_layers(); ++l) {
    double v_best = kInf, b_best = 0, q_best = 0;
    int d_best = -1;
    for (int d = 0; d < g.num_devices(); ++d) {
      if (Capacity(g, d) <= 0) continue;
      for (int f = 0; f < g.num_formats(); ++f) {
        if (!g.supported(d, f)) continue;
        const double v = (g.*cost)(d, l, f) + mu[d] * g.bytes(l, f) +
                         lambda * g.quality(l, f);
        if (v < v_best) v_best = v, d_best = d, b_best = g.bytes(l, f),
                        q_best = g.quality(l, f);
      }
    }
    if (d_best < 0) return -kInf;
    value += v_best;
    load[d_best] += b_best;
    quality += q_best;
  }
  return value;
}

// max over multipliers of sum_l min_{d,f} (c + mu_d b + lambda q)
//   - sum_d mu_d cap_d - lambda Q, by projected subgradient ascent.
double LagrangianSum(const Problem& p, const CostGrid& g, CostFn cost) {
  const int nd = g.num_devices();
  const bool use_q = std::isfinite(p.quality_budget);
  const Scales s = ComputeScales(g, cost);
  std::vector<double> mu(nd, 0), load(nd);
  double lambda = 0, best = 0;
  for (int it = 0; it < 200; ++it) {
    std::fill(load.begin(), load.end(), 0.0);
    double quality = 0;
    double value = AssignLayers(g, cost, mu, lambda, load, quality);
    if (!std::isfinite(value)) return 0;  // nothing can hold a layer: no plan
    for (int d = 0; d < nd; ++d) value -= mu[d] * Capacity(g, d);
    if (use_q) value -= lambda * p.quality_budget;
    best = std::max(best, value);
    const double step = 1.0 / (it + 1);
    for (int d = 0; d < nd && s.bytes > 0; ++d) {
      mu[d] = std::max(0.0, mu[d] + step * s.cost / s.bytes *
                                        (load[d] - Capacity(g, d)) / s.bytes);
    }
    if (use_q && s.quality > 0) {
      lambda = std::max(0.0, lambda + step * s.cost / s.quality *
                                          (quality - p.quality_budget) / s.quality);
    }
  }
  return best;
}

// True when no single device can hold every layer in its smallest format.
bool NeedsTwoStages(const CostGrid& g) {
  for (int d = 0; d < g.num_devices(); ++d) {
    double bytes = g.StageFixedBytes(d, true, true);
    for (int l = 0; l < g.num_layers(); ++l) {
      double smallest = kInf;
      for (int f = 0; f < g.num_formats(); ++f) {
        if (g.supported(d, f)) smallest = std::min(smallest, g.bytes(l, f));
      }
      bytes += smallest;
    }
    if (bytes <= g.device(d).budget_bytes) return false;
  }
  return true;
}

// A lower bound on the bytes of all layers within the quality budget:
// max over lambda >= 0 of sum_l min_f (bytes + lambda q) - lambda Q (weak
// duality; the function is concave in lambda, searched by golden section).
double MinLayerBytes(const Problem& p, const CostGrid& g) {
  auto dual = [&](double lambda) {
    double total = 0;
    for (int l = 0; l < g.num_layers(); ++l) {
      double best = kInf;
      for (int f = 0; f < g.num_formats(); ++f) {
        best = std::min(best, g.bytes(l, f) + lambda * g.quality(l, f));
      }
      total += best;
    }
    return lambda > 0 ? total - lambda * p.quality_budget : total;
  };
  double best = dual(0);  // the smallest formats, whatever their quality
  if (!std::isfinite(p.quality_budget)) return best;
  double lo = 0, hi = 1;
  while (hi < 1e30 && dual(hi) > dual(hi / 2)) hi *= 2;  // bracket the peak
  for (int it = 0; it < 100; ++it) {
    const double a = lo + (hi - lo) * 0.382, b = lo + (hi - lo) * 0.618;
    if (dual(a) < dual(b)) {
      lo = a;
    } else {
      hi = b;
    }
  }
  return std::max(best, dual((lo + hi) / 2));
}

// Fewest stages whose memory can hold the layers: the largest capacities
// first.
int MinStages(const Problem& p, const CostGrid& g) {
  const double bytes = MinLayerBytes(p, g);
  std::vector<double> capacity;
  for (int d = 0; d < g.num_devices(); ++d) capacity.push_back(Capacity(g, d));
  std::sort(capacity.rbegin(), capacity.rend());
  int stages = NeedsTwoStages(g) ? 2 : 1;
  double held = 0;
  for (size_t m = 0; m < capacity.size(); ++m) {
    held += capacity[m];
    if (held >= bytes) return std::max(stages, static_cast<int>(m) + 1);
  }
  return g.num_devices() + 1;  // cannot hold it at all
}

// The cheapest extra stage (link into it and its overheads), the cheapest
// token return, and the least busy link (ms per request).
struct StageCosts {
  double lat = kInf, return_lat = kInf, busy = kInf;
};

StageCosts CheapestStage(const CostGrid& g) {
  StageCosts c;
  const double gen = static_cast<double>(g.gen_tokens());
  for (int a = 0; a < g.num_devices(); ++a) {
    for (int b = 0; b < g.num_devices(); ++b) {
      if (a == b || !g.link(a, b).usable) continue;
      const double overhead = g.device(b).overhead_ms;
      c.lat = std::min(c.lat, g.LinkLatMs(a, b) + gen * overhead);
      c.return_lat = std::min(c.return_lat, g.ReturnLatMs(a, b));
      c.busy = std::min(c.busy, g.LinkBusyMs(a, b));
    }
  }
  return c;
}

// Per request, a stage on d is busy for G overheads plus lat_ms of each
// layer (problem.h).
double StageOverheadMs(const CostGrid& g, int d) {
  return static_cast<double>(g.gen_tokens()) * g.device(d).overhead_ms;
}

// Layers device d can run within a bottleneck of `b` ms per request, and can
// hold.
double LayersWithin(const CostGrid& g, int d, double b, double min_bytes) {
  double fastest = kInf;
  for (int l = 0; l < g.num_layers(); ++l) {
    for (int f = 0; f < g.num_formats(); ++f) {
      if (g.supported(d, f)) fastest = std::min(fastest, g.lat_ms(d, l, f));
    }
  }
  double by_time = fastest > 0 ? (b - StageOverheadMs(g, d)) / fastest : kInf;
  double by_memory = min_bytes > 0 ? Capacity(g, d) / min_bytes : kInf;
  return std::max(0.0, std::min(by_time, by_memory));
}

// The busiest stage's ms per request.
double BottleneckBound(const CostGrid& g) {
  double min_bytes = kInf, hi = 0;
  for (int l = 0; l < g.num_layers(); ++l) {
    for (int f = 0; f < g.num_formats(); ++f) {
      min_bytes = std::min(min_bytes, g.bytes(l, f));
    }
  }
  for (int d = 0; d < g.num_devices(); ++d) {
    double total = StageOverheadMs(g, d);
    for (int l = 0; l < g.num_layers(); ++l) {
      double fastest = kInf;
      for (int f = 0; f < g.num_formats(); ++f) {
        if (g.supported(d, f)) fastest = std::min(fastest, g.lat_ms(d, l, f));
      }
      total += std::isfinite(fastest) ? fastest : 0;
    }
    hi = std::max(hi, total);
  }
  auto covers = [&](double b) {
    double layers = 0;
    for (int d = 0; d < g.num_devices(); ++d) layers += LayersWithin(g, d, b, min_bytes);
    return layers >= g.num_layers();
  };
  if (!covers(hi)) return 0;
  double lo = 0;
  for (int it = 0; it < 60; ++it) {
    double mid = (lo + hi) / 2;
    (covers(mid) ? hi : lo) = mid;
  }
  return lo;
}

}  // namespace

double ObjectiveLowerBound(const Problem& p, const CostGrid& g) {
  const double gen = static_cast<double>(g.gen_tokens());
  double fixed = kInf;  // overhead + head of the one stage that must exist
  for (int d = 0; d < g.num_devices(); ++d) {
    fixed = std::min(fixed, g.device(d).overhead_ms + g.device(d).head_ms);
  }
  double lat = LagrangianSum(p, g, &CostGrid::lat_ms) + gen * fixed;
  double busy = BottleneckBound(g);  // ms per request
  const int stages = MinStages(p, g);
  if (stages > g.num_devices()) return kInf;  // no plan can exist
  if (stages > 1) {
    StageCosts c = CheapestStage(g);
    if (!std::isfinite(c.lat)) return kInf;  // no two devices connect
    lat += (stages - 1) * c.lat + c.return_lat;
    busy = std::max(busy, c.busy);
  }
  return ObjectiveValue(p, lat, busy / gen);
}

}  // namespace tessera::partitioner
