#include "partitioner/stage_dp.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace tessera::partitioner {

std::vector<Stage> StepArena::Reconstruct(
    int32_t step, const std::vector<model::GgmlType>& formats) const {
  std::vector<std::pair<int, int>> layers;  // (device, format), last first
  for (int32_t s = step; s >= 0; s = steps_[s].prev) {
    layers.emplace_back(steps_[s].device, steps_[s].format);
  }
  std::reverse(layers.begin(), layers.end());
  std::vector<Stage> stages;
  for (size_t l = 0; l < layers.size(); ++l) {
    if (stages.empty() || stages.back().device != layers[l].first) {
      Stage stage;
      stage.device = layers[l].first;
      stage.first_layer = static_cast<int64_t>(l);
      stages.push_back(stage);
    }
    stages.back().end_layer = static_cast<int64_t>(l) + 1;
    stages.back().formats.push_back(formats[layers[l].second]);
  }
  MarkEnds(stages);
  return stages;
}

StageDp::StageDp(const Problem& problem, const CostGrid& grid,
                 size_t max_labels, double lambda)
    : problem_(problem), grid_(grid),
      max_labels_(std::max<size_t>(max_labels, 4)), lambda_(lambda) {
  use_busy_ = problem.objective != Objective::kLatency;
  use_q_ = lambda_ < 0 && std::isfinite(problem.quality_budget);
  weight_ = problem.latency_weight;
  gen_ = static_cast<double>(grid.gen_tokens());
  k_ = static_cast<double>(grid.concurrent_requests());
  if (lambda_ >= 0) {
    // d(objective) / d(latency) is 1 (latency), 1 / kG (throughput) or
    // w / G + (1 - w) / kG (mix): pricing quality at lambda over that raises
    // the objective by exactly lambda * quality, so (penalised optimum -
    // lambda * budget) stays a valid dual bound.
    const double w = problem.latency_weight, kg = k_ * gen_;
    switch (problem.objective) {
      case Objective::kLatency: pen_lat_ = lambda_; break;
      case Objective::kThroughput: pen_lat_ = lambda_ * kg; break;
      case Objective::kMix: pen_lat_ = lambda_ / (w / gen_ + (1 - w) / kg); break;
    }
  }
  BuildSuffixBounds();
  BuildStageBounds();
  min_head_ms_ = std::numeric_limits<double>::infinity();
  end_bytes_.resize(grid.num_devices());
  for (int d = 0; d < grid.num_devices(); ++d) {
    const auto& dev = grid.device(d);
    min_head_ms_ = std::min(min_head_ms_, dev.head_ms);
    end_bytes_[d] = dev.last_stage_bytes + std::max(dev.head_bytes, dev.head_bytes_shared);
  }
}

void StageDp::ChooseMultipliers() {
  // Relative to (cheapest total time) / (largest total quality), so that
  // some of them bind whatever the units.
  double time = 0, quality = 0;
  for (int l = 0; l < grid_.num_layers(); ++l) {
    double t = std::numeric_limits<double>::infinity(), q = 0;
    for (int f = 0; f < grid_.num_formats(); ++f) {
      q = std::max(q, grid_.quality(l, f));
      for (int d = 0; d < grid_.num_devices(); ++d) {
        if (grid_.supported(d, f)) t = std::min(t, grid_.lat_ms(d, l, f));
      }
    }
    time += std::isfinite(t) ? t : 0;
    quality += q;
  }
  multipliers_ = {0};
  if (use_q_ && quality > 0) {
    for (double frac : {1.0 / 16, 1.0 / 4, 1.0, 4.0, 16.0}) {
      multipliers_.push_back(frac * time / quality);
    }
  }
}

void StageDp::BuildSuffixBounds() {
  const int n = grid_.num_layers(), nf = grid_.num_formats(), nd = grid_.num_devices();
  const double inf = std::numeric_limits<double>::infinity();
  ChooseMultipliers();
  rest_max_bytes_.assign(n + 1, 0);
  rest_max_q_.assign(n + 1, 0);
  rest_lat_.assign(multipliers_.size(), std::vector<double>(n + 1, 0));
  for (int l = n - 1; l >= 0; --l) {
    double max_bytes = 0, max_q = 0;
    for (int f = 0; f < nf; ++f) {
      max_bytes = std::max(max_bytes, grid_.bytes(l, f));
      max_q = std::max(max_q, grid_.quality(l, f));
    }
    rest_max_bytes_[l] = rest_max_bytes_[l + 1] + max_bytes;
    rest_max_q_[l] = rest_max_q_[l + 1] + max_q;
    for (size_t j = 0; j < multipliers_.size(); ++j) {
      double lat = inf;
      for (int f = 0; f < nf; ++f) {
        for (int d = 0; d < nd; ++d) {
          if (!grid_.supported(d, f)) continue;
          lat = std::min(lat, grid_.lat_ms(d, l, f) + multipliers_[j] * grid_.quality(l, f));
        }
      }
      rest_lat_[j][l] = rest_lat_[j][l + 1] + (std::isfinite(lat) ? lat : 0);
    }
  }
}

// max_j rest[j][boundary] - mu_j * (quality budget left): by weak duality a
// bound on the cost of layers [boundary, L) within the remaining budget.
double StageDp::RestBound(const std::vector<std::vector<double>>& rest,
                          int boundary, double q) const {
  double best = rest[0][boundary];
  for (size_t j = 1; j < multipliers_.size(); ++j) {
    best = std::max(best, rest[j][boundary] -
                              multipliers_[j] * (problem_.quality_budget - q));
  }
  return best;
}

void StageDp::SetKeys(Label& l, int boundary, int device) const {
  l.mem_key = 0;
  if (device >= 0 && l.mem + rest_max_bytes_[boundary] + end_bytes_[device] >
                         grid_.device(device).budget_bytes) {
    l.mem_key = l.mem;
  }
  l.q_key = 0;
  if (use_q_ && l.q + rest_max_q_[boundary] > problem_.quality_budget) {
    l.q_key = l.q;
  }
}

void StageDp::BuildStageBounds() {
  const int n = grid_.num_layers(), nd = grid_.num_devices();
  const double inf = std::numeric_limits<double>::infinity();
  const double g = static_cast<double>(grid_.gen_tokens());
  rest_min_bytes_.assign(n + 1, 0);
  for (int l = n - 1; l >= 0; --l) {
    double smallest = inf;
    for (int f = 0; f < grid_.num_formats(); ++f) {
      smallest = std::min(smallest, grid_.bytes(l, f));
    }
    rest_min_bytes_[l] = rest_min_bytes_[l + 1] + smallest;
  }
  std::vector<double> capacity;
  for (int d = 0; d < nd; ++d) {
    capacity.push_back(std::max(0.0, grid_.device(d).budget_bytes -
                                         grid_.device(d).stage_bytes));
  }
  std::sort(capacity.rbegin(), capacity.rend());
  capacity_prefix_.assign(1, 0);
  for (double c : capacity) capacity_prefix_.push_back(capacity_prefix_.back() + c);
  stage_lat_ = return_lat_ = link_busy_ = inf;
  for (int a = 0; a < nd; ++a) {
    for (int b = 0; b < nd; ++b) {
      if (a == b || !grid_.link(a, b).usable) continue;
      const double overhead = grid_.device(b).overhead_ms;
      stage_lat_ = std::min(stage_lat_, grid_.LinkLatMs(a, b) + g * overhead);
      return_lat_ = std::min(return_lat_, grid_.ReturnLatMs(a, b));
      link_busy_ = std::min(link_busy_, grid_.LinkBusyMs(a, b));
    }
  }
}

int StageDp::StagesFor(double bytes) const {
  if (bytes <= 0) return 0;
  auto it = std::lower_bound(capacity_prefix_.begin(), capacity_prefix_.end(), bytes);
  if (it == capacity_prefix_.end()) return -1;
  return static_cast<int>(it - capacity_prefix_.begin());
}

double StageDp::LowerBound(const Label& l, int boundary, int open_device) const {
  const int n = grid_.num_layers();
  const bool head_pending = boundary < n;
  const double g = static_cast<double>(grid_.gen_tokens());
  double remaining = rest_min_bytes_[boundary];
  int extra = (open_device < 0 && boundary < n) ? 1 : 0;
  if (open_device >= 0) {
    remaining -= std::max(0.0, grid_.device(open_device).budget_bytes - l.mem);
  }
  const int needed = StagesFor(remaining);
  if (needed < 0) return std::numeric_limits<double>::infinity();
  extra = std::max(extra, needed);
  double lat = l.lat + RestBound(rest_lat_, boundary, l.q) +
               (head_pending ? g * min_head_ms_ : 0);
  double busy = std::max(l.busy, l.st);
  if (extra > 0) {
    lat += extra * stage_lat_ + return_lat_;
    busy = std::max(busy, link_busy_);
  }
  return Value(lat, busy);
}

bool StageDp::Dominates(const Label& a, const Label& b) {
  return a.lat <= b.lat && a.busy <= b.busy && a.st <= b.st && a.mem_key <= b.mem_key && a.q_key <= b.q_key;
}

void StageDp::Insert(LabelSet& set, const Label& label) {
  // One pass: give up if some label dominates the new one, else drop those
  // it dominates (compacting in place).
  work_ += static_cast<int64_t>(set.size()) + 1;
  size_t kept = 0;
  for (size_t i = 0; i < set.size(); ++i) {
    if (Dominates(set[i], label)) {
      if (kept != i) {  // restore the tail not yet examined
        std::copy(set.begin() + i, set.end(), set.begin() + kept);
        set.resize(kept + set.size() - i);
      }
      return;
    }
    if (!Dominates(label, set[i])) set[kept++] = set[i];
  }
  set.resize(kept);
  set.push_back(label);
}

void StageDp::Trim(LabelSet& set, int boundary, int device) {
  // Keep the best label (by lower bound) per cell of a bytes x quality grid,
  // so that both lean and fast partial plans survive.
  const int cells = use_q_ ? std::max<int>(2, std::sqrt(max_labels_ / 2.0))
                           : static_cast<int>(max_labels_ / 2);
  const double mem_scale = device >= 0 ? grid_.device(device).budget_bytes : 1.0;
  const double q_scale = use_q_ ? std::max(problem_.quality_budget, 1e-300) : 1.0;
  std::vector<int> best(static_cast<size_t>(cells) * (use_q_ ? cells : 1), -1);
  std::vector<double> value(set.size());
  for (size_t i = 0; i < set.size(); ++i) {
    const Label& l = set[i];
    int m = std::min(cells - 1, static_cast<int>(l.mem_key / mem_scale * cells));
    int q = use_q_ ? std::min(cells - 1, static_cast<int>(l.q_key / q_scale * cells)) : 0;
    int& cell = best[static_cast<size_t>(m) * (use_q_ ? cells : 1) + q];
    value[i] = LowerBound(l, boundary, device);
    if (cell < 0 || value[i] < value[cell]) cell = static_cast<int>(i);
  }
  LabelSet kept;
  for (int i : best) {
    if (i >= 0) kept.push_back(set[i]);
  }
  set.swap(kept);
  trimmed_ = true;
}

Label StageDp::Start(const Label& in, int device, bool first) const {
  const auto& dev = grid_.device(device);
  Label s = in;
  const double overhead = static_cast<double>(grid_.gen_tokens()) * dev.overhead_ms;
  s.lat += overhead;
  if (use_busy_) {
    s.st = overhead;
    s.busy = std::max(s.busy, s.st);
  }
  s.mem = grid_.StageFixedBytes(device, first, false);
  return s;
}

bool StageDp::Close(const Label& open, int device, bool first, int boundary,
                    Label& out) const {
  out = open;
  if (boundary == grid_.num_layers()) {
    const auto& dev = grid_.device(device);
    out.mem += grid_.StageFixedBytes(device, first, true) -
               grid_.StageFixedBytes(device, first, false);
    if (out.mem > dev.budget_bytes) return false;
    const double head = static_cast<double>(grid_.gen_tokens()) * dev.head_ms;
    out.lat += head;
    if (use_busy_) out.st += head;
  }
  out.busy = std::max(out.busy, out.st);
  out.st = 0;
  out.mem = 0;
  SetKeys(out, boundary, -1);
  return LowerBound(out, boundary, -1) < incumbent_;
}

void StageDp::Advance(const LabelSet& open, int device, int layer,
                      LabelSet& next, StepArena& arena) {
  const double budget = grid_.device(device).budget_bytes;
  for (const Label& l : open) {
    for (int f = 0; f < grid_.num_formats(); ++f) {
      if (!grid_.supported(device, f)) continue;
      Label n = l;
      const double q = grid_.quality(layer, f);
      n.mem += grid_.bytes(layer, f);
      n.q += q;
      if (n.mem > budget || (use_q_ && n.q > problem_.quality_budget)) continue;
      const double lat = grid_.lat_ms(device, layer, f);
      n.lat += lat + pen_lat_ * q;
      if (use_busy_) {
        n.st += lat;  // one prefill and G - 1 decode steps (problem.h)
        n.busy = std::max(n.busy, n.st);  // see Label::busy
      }
      if (std::isfinite(incumbent_) && LowerBound(n, layer + 1, device) >= incumbent_) {
        continue;
      }
      SetKeys(n, layer + 1, device);
      n.step = arena.Add(l.step, device, f);
      Insert(next, n);
    }
  }
}

void StageDp::ExtendColumn(int device, bool first,
                           const std::vector<LabelSet>& incoming,
                           std::vector<LabelSet>& closed, StepArena& arena) {
  const int n = grid_.num_layers();
  closed.assign(n + 1, LabelSet());
  LabelSet open, next;
  const double budget = grid_.device(device).budget_bytes;
  LabelSet trimmed_in;
  for (int i = 0; i < n; ++i) {
    const LabelSet* starts = &incoming[i];
    if (starts->size() > max_labels_) {  // many predecessors: keep the best
      trimmed_in = *starts;
      Trim(trimmed_in, i, -1);
      starts = &trimmed_in;
    }
    for (const Label& in : *starts) {
      Label s = Start(in, device, first);
      if (s.mem > budget || LowerBound(s, i, device) >= incumbent_) continue;
      SetKeys(s, i, device);
      Insert(open, s);
    }
    if (open.empty()) continue;
    if (exhausted()) return;
    if (open.size() > max_labels_) Trim(open, i, device);
    next.clear();
    Advance(open, device, i, next, arena);
    for (const Label& l : next) {
      Label c;
      if (Close(l, device, first, i + 1, c)) Insert(closed[i + 1], c);
    }
    if (closed[i + 1].size() > max_labels_) Trim(closed[i + 1], i + 1, -1);
    open.swap(next);
  }
}

bool StageDp::AddLink(const Label& label, int from, int to, Label& out) const {
  const CostGrid::LinkCost& link = grid_.link(from, to);
  if (!link.usable) return false;
  out = label;
  out.lat += grid_.LinkLatMs(from, to);
  if (use_busy_) out.busy = std::max(out.busy, grid_.LinkBusyMs(from, to));
  return true;
}

double StageDp::CompleteValue(const Label& label, int first_device,
                              int last_device) const {
  double lat = label.lat, busy = label.busy;
  if (first_device != last_device) {
    if (!grid_.link(last_device, first_device).usable) {
      return std::numeric_limits<double>::infinity();
    }
    lat += grid_.ReturnLatMs(last_device, first_device);
    if (use_busy_) busy = std::max(busy, grid_.ReturnBusyMs(last_device, first_device));
  }
  return Value(lat, busy);
}

}  // namespace tessera::partitioner
