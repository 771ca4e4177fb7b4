// Test and benchmark helpers: synthetic problems (random or regular) built
// directly from numbers, without a model file. Header-only; not part of the
// library's interface.
#ifndef TESSERA_PARTITIONER_TEST_UTIL_H_
#define TESSERA_PARTITIONER_TEST_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/model_shapes.h"
#include "partitioner/problem.h"
#include "partitioner/quality.h"

namespace tessera::partitioner::testing {

struct RandomSpec {
  int max_devices = 4;
  int max_layers = 8;
  int max_formats = 3;
  bool allow_missing_links = true;
  bool full_size = false;  // exactly the maximum sizes, every format everywhere
};

inline double Uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(rng() >> 11) * 0x1.0p-53);
}

inline int UniformInt(std::mt19937_64& rng, int lo, int hi) {  // [lo, hi]
  return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

// Bytes of a layer in each format relative to F16.
inline double FormatRatio(model::GgmlType t) {
  switch (t) {
    case model::GgmlType::kF32: return 2.0;
    case model::GgmlType::kF16: return 1.0;
    case model::GgmlType::kQ8_0: return 34.0 / 64;
    default: return 18.0 / 64;
  }
}

inline CostTable RandomCosts(std::mt19937_64& rng, int layers, int formats) {
  std::vector<model::GgmlType> all = {model::GgmlType::kF16, model::GgmlType::kQ8_0,
                                      model::GgmlType::kQ4_0};
  std::shuffle(all.begin(), all.end(), rng);
  CostTable c;
  c.model_name = "random";
  c.n_layers = layers;
  c.dim = 256;
  c.vocab_size = 1000;
  c.formats.assign(all.begin(), all.begin() + formats);
  for (int l = 0; l < layers; ++l) {
    double base = Uniform(rng, 1e6, 4e6);
    std::vector<int64_t> row;
    for (auto f : c.formats) {
      row.push_back(static_cast<int64_t>(base * FormatRatio(f) * Uniform(rng, 0.9, 1.1)));
    }
    c.layer_weight_bytes.push_back(row);
    c.layer_flops_per_token.push_back(base * Uniform(rng, 0.5, 2.0));
  }
  c.attn_flops_per_context_token = Uniform(rng, 100, 2000);
  c.kv_bytes_per_token = UniformInt(rng, 16, 512);
  c.scratch_bytes_per_token = UniformInt(rng, 0, 4096);
  c.embedding_bytes = static_cast<int64_t>(Uniform(rng, 1e5, 3e6));
  c.tied_embeddings = rng() % 2 == 0;
  c.head_norm_bytes = 1024;
  c.head_bytes = c.tied_embeddings ? c.embedding_bytes + c.head_norm_bytes
                                   : static_cast<int64_t>(Uniform(rng, 1e5, 3e6));
  c.head_flops_per_token = Uniform(rng, 1e5, 1e7);
  c.logits_bytes = 4000;
  c.activation_bytes_per_token = {1024, 512, 272};
  return c;
}

inline DeviceProfile RandomDevice(std::mt19937_64& rng, int index,
                                  const CostTable& c, double model_bytes,
                                  bool all_formats) {
  DeviceProfile d;
  d.name = absl::StrCat("dev", index);
  d.memory_budget_bytes = static_cast<int64_t>(model_bytes * Uniform(rng, 0.3, 1.2));
  d.step_overhead_ms = Uniform(rng, 0, 2);
  for (auto f : c.formats) {
    if (all_formats || d.perf.empty() || rng() % 4 != 0) {
      d.perf[f] = {Uniform(rng, 1e9, 3e10), Uniform(rng, 1e10, 1e12)};
    }
  }
  return d;
}

inline QualityTable RandomQuality(std::mt19937_64& rng, const CostTable& c) {
  QualityTable q{"random", c.formats, {}};
  for (int l = 0; l < c.n_layers; ++l) {
    std::vector<double> row;
    for (auto f : c.formats) {
      if (f == model::GgmlType::kF32) {
        row.push_back(0);
      } else {
        row.push_back(f == model::GgmlType::kF16 ? Uniform(rng, 0, 0.01)
                                                 : Uniform(rng, 0, 1));
      }
    }
    q.cost.push_back(row);
  }
  return q;
}

// A random valid problem; about one in five has no feasible plan.
inline Problem RandomProblem(uint64_t seed, const RandomSpec& spec = {}) {
  std::mt19937_64 rng(seed);
  Problem p;
  const bool full = spec.full_size;
  p.costs = RandomCosts(rng, full ? spec.max_layers : UniformInt(rng, 2, spec.max_layers),
                        full ? spec.max_formats : UniformInt(rng, 1, spec.max_formats));
  p.workload.prompt_tokens = UniformInt(rng, 1, 256);
  p.workload.gen_tokens = UniformInt(rng, 1, 64);
  p.workload.concurrent_requests = UniformInt(rng, 1, 4);
  // Roughly what the model needs in its middle format: budgets around it
  // make memory bind often without making most instances infeasible.
  double model_bytes = static_cast<double>(p.costs.embedding_bytes + p.costs.head_bytes);
  for (const auto& row : p.costs.layer_weight_bytes) {
    model_bytes += row[row.size() / 2] +
                   static_cast<double>(p.costs.kv_bytes_per_token) *
                       (p.workload.prompt_tokens + p.workload.gen_tokens) *
                       p.workload.concurrent_requests;
  }
  p.cluster.name = "random";
  const int devices = full ? spec.max_devices : UniformInt(rng, 1, spec.max_devices);
  for (int i = 0; i < devices; ++i) {
    p.cluster.devices.push_back(RandomDevice(rng, i, p.costs, model_bytes, full));
  }
  for (int a = 0; a < devices; ++a) {
    for (int b = 0; b < devices; ++b) {
      if (a == b || (spec.allow_missing_links && rng() % 8 == 0)) continue;
      p.cluster.links.push_back({p.cluster.devices[a].name, p.cluster.devices[b].name,
                                 Uniform(rng, 0, 5), Uniform(rng, 1e6, 1e9)});
    }
  }
  p.workload.codec = static_cast<ActivationCodec>(UniformInt(rng, 0, 2));
  p.quality = RandomQuality(rng, p.costs);
  if (rng() % 2 == 0) p.quality_budget = Uniform(rng, 0.1, 0.6) * p.costs.n_layers;
  p.objective = static_cast<Objective>(UniformInt(rng, 0, 2));
  p.latency_weight = Uniform(rng, 0, 1);
  return p;
}

// A regular problem of a given size for benchmarks: a llama-like model and
// a cluster of `devices` devices of four kinds on one shared network.
inline Problem RegularProblem(int devices, int layers, int formats,
                              uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  Problem p;
  p.costs = RandomCosts(rng, layers, 3);
  if (formats == 4) p.costs.formats.push_back(model::GgmlType::kF32);
  for (auto& row : p.costs.layer_weight_bytes) {
    row.resize(formats, row[0]);
    if (formats == 4) row[3] = row[p.costs.FormatIndex(model::GgmlType::kF16)] * 2;
  }
  p.costs.formats.resize(formats);
  p.workload.concurrent_requests = 4;
  double need = static_cast<double>(p.costs.embedding_bytes + p.costs.head_bytes);
  for (const auto& row : p.costs.layer_weight_bytes) {
    need += row[0] + static_cast<double>(p.costs.kv_bytes_per_token) *
                         (p.workload.prompt_tokens + p.workload.gen_tokens) * 4;
  }
  // Together the devices hold about four copies of the model in F16: small
  // clusters must split it, large ones choose among many devices.
  for (int i = 0; i < devices; ++i) {
    DeviceProfile d;
    d.name = absl::StrCat("dev", i);
    const int kind = i % 4;
    d.memory_budget_bytes =
        static_cast<int64_t>(need * 4.0 / devices * (0.6 + 0.3 * kind));
    d.step_overhead_ms = 0.2 + 0.3 * kind;
    for (auto f : p.costs.formats) {
      d.perf[f] = {(4 + 6 * kind) * 1e9 * (f == model::GgmlType::kQ4_0 ? 0.8 : 1.0),
                   (20 + 40 * kind) * 1e9};
    }
    p.cluster.devices.push_back(d);
  }
  p.cluster.default_link = LinkProfile{"", "", 2.0, 50e6};
  p.quality = RandomQuality(rng, p.costs);
  p.quality_budget = 0.3 * layers;
  return p;
}

// A device with `bandwidth_gb_s` effective decode bandwidth (GB/s) and
// `gflop_s` GFLOP/s in every execution format.
inline DeviceProfile SimpleDevice(const std::string& name, double memory_gib,
                                  double bandwidth_gb_s, double gflop_s,
                                  double overhead_ms = 0.5) {
  DeviceProfile d;
  d.name = name;
  d.memory_budget_bytes = static_cast<int64_t>(memory_gib * (1LL << 30));
  d.step_overhead_ms = overhead_ms;
  for (auto f : {model::GgmlType::kF32, model::GgmlType::kF16,
                 model::GgmlType::kQ8_0, model::GgmlType::kQ4_0}) {
    d.perf[f] = {bandwidth_gb_s * 1e9, gflop_s * 1e9};
  }
  return d;
}

// Devices on one network where every ordered pair has the same link.
inline Cluster SharedNetwork(std::vector<DeviceProfile> devices,
                             double latency_ms, double mbit_s) {
  Cluster c;
  c.name = "test";
  c.devices = std::move(devices);
  c.default_link = LinkProfile{"", "", latency_ms, mbit_s * 1e6 / 8};
  return c;
}

// A problem for a published model shape with the Gaussian quality proxy.
inline Problem ShapeProblem(const std::string& shape, Cluster cluster,
                            Workload workload = {}) {
  model::ModelConfig config = model::FindShape(shape)->config;
  Problem p;
  p.costs = *BuildCostTable(config);
  p.quality = *GaussianProxy(config, p.costs, model::GgmlType::kF16);
  p.cluster = std::move(cluster);
  p.workload = workload;
  return p;
}

}  // namespace tessera::partitioner::testing

#endif  // TESSERA_PARTITIONER_TEST_UTIL_H_
