#include "sim/des.h"

#include <algorithm>
#include <deque>
#include <queue>
#include <random>

#include "absl/strings/str_cat.h"

namespace tessera::sim {
namespace {

constexpr double kTokenBytes = 4;  // a sampled token id on the return path

struct WorkItem {
  int request = 0;
  bool prefill = false;
};

// Runs one simulation; see des.h for the model.
class Engine {
 public:
  Engine(const std::vector<StageCosts>& stages, const std::vector<SimLink>& links,
         const DesOptions& options)
      : stages_(stages), links_(links), opt_(options), rng_(options.seed),
        state_(stages.size()), link_free_ms_(links.size(), 0.0),
        tokens_(options.requests, 0), start_ms_(options.requests, 0),
        ttft_ms_(options.requests, 0), latency_ms_(options.requests, 0) {}

  DesResult Run();

 private:
  enum class Kind { kStageArrive, kStageDone, kTokenArrive };
  struct Event {
    double t;
    int64_t seq;
    Kind kind;
    int stage;
    int message;  // index into messages_, -1 for kStageDone
    bool operator>(const Event& o) const {
      return t != o.t ? t > o.t : seq > o.seq;
    }
  };
  struct StageState {
    std::deque<WorkItem> queue;
    std::vector<WorkItem> running;
    bool busy = false;
    double busy_ms = 0;
  };

  void Push(double t, Kind kind, int stage, int message) {
    events_.push({t, seq_++, kind, stage, message});
  }
  int NewMessage(std::vector<WorkItem> items);
  void Send(int link, double bytes, double t, Kind kind, int stage,
            std::vector<WorkItem> items);
  void TryStart(int s, double t);
  void OnStageDone(int s, double t);
  void DeliverTokens(const std::vector<WorkItem>& items, double t);
  void Admit(double t);
  DesResult Summarise() const;

  const std::vector<StageCosts>& stages_;
  const std::vector<SimLink>& links_;
  const DesOptions opt_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_{0.0, 1.0};
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  int64_t seq_ = 0;
  std::vector<StageState> state_;
  std::vector<double> link_free_ms_;
  std::vector<std::vector<WorkItem>> messages_;
  std::vector<int> free_messages_;
  std::vector<int64_t> tokens_;
  std::vector<double> start_ms_, ttft_ms_, latency_ms_;
  int64_t next_request_ = 0, finished_ = 0, in_flight_ = 0;
  int64_t decode_steps_ = 0, decode_tokens_ = 0, events_done_ = 0;
  double now_ms_ = 0;
  std::vector<BusyInterval> timeline_;
};

int Engine::NewMessage(std::vector<WorkItem> items) {
  if (!free_messages_.empty()) {
    int id = free_messages_.back();
    free_messages_.pop_back();
    messages_[id] = std::move(items);
    return id;
  }
  messages_.push_back(std::move(items));
  return static_cast<int>(messages_.size()) - 1;
}

// The link is a FIFO server: serialisation occupies it, latency does not.
void Engine::Send(int link, double bytes, double t, Kind kind, int stage,
                  std::vector<WorkItem> items) {
  const SimLink& l = links_[link];
  const double start = std::max(t, link_free_ms_[link]);
  link_free_ms_[link] = start + 1e3 * bytes / l.bandwidth_bytes_per_s;
  double latency = l.latency_ms;
  if (l.jitter_ms > 0) latency = std::max(0.0, latency + l.jitter_ms * normal_(rng_));
  Push(link_free_ms_[link] + latency, kind, stage, NewMessage(std::move(items)));
}

void Engine::TryStart(int s, double t) {
  StageState& st = state_[s];
  if (st.busy || st.queue.empty()) return;
  st.running.clear();
  double ms = 0;
  if (st.queue.front().prefill) {
    st.running.push_back(st.queue.front());
    st.queue.pop_front();
    ms = stages_[s].prefill_ms;
  } else {
    // Every waiting decode step joins the batch; prefills keep their place.
    std::deque<WorkItem> rest;
    for (const WorkItem& w : st.queue) {
      if (!w.prefill && static_cast<int>(st.running.size()) < opt_.max_batch) {
        st.running.push_back(w);
      } else {
        rest.push_back(w);
      }
    }
    st.queue.swap(rest);
    const int batch = static_cast<int>(st.running.size());
    ms = stages_[s].DecodeMs(batch);
    ++decode_steps_;
    decode_tokens_ += batch;
  }
  st.busy = true;
  st.busy_ms += ms;
  if (timeline_.size() < opt_.max_intervals) {
    timeline_.push_back({s, t, t + ms, st.running.front().prefill,
                         static_cast<int>(st.running.size())});
  }
  Push(t + ms, Kind::kStageDone, s, -1);
}

void Engine::OnStageDone(int s, double t) {
  StageState& st = state_[s];
  std::vector<WorkItem> done = std::move(st.running);
  st.running.clear();
  st.busy = false;
  const int n = static_cast<int>(stages_.size());
  const double tokens = static_cast<double>(done.size());
  if (s + 1 < n) {
    const double per_item = static_cast<double>(opt_.activation_bytes_per_token) *
                            (done.front().prefill ? opt_.prompt_tokens : 1);
    Send(s, per_item * tokens, t, Kind::kStageArrive, s + 1, std::move(done));
  } else if (n == 1) {
    DeliverTokens(done, t);
  } else {
    Send(n - 1, kTokenBytes * tokens, t, Kind::kTokenArrive, 0, std::move(done));
  }
  TryStart(s, t);
}

void Engine::DeliverTokens(const std::vector<WorkItem>& items, double t) {
  for (const WorkItem& w : items) {
    const int r = w.request;
    if (++tokens_[r] == 1) ttft_ms_[r] = t - start_ms_[r];
    if (tokens_[r] == opt_.gen_tokens) {
      latency_ms_[r] = t - start_ms_[r];
      ++finished_;
      --in_flight_;
    } else {
      state_[0].queue.push_back({r, false});
    }
  }
  Admit(t);
  TryStart(0, t);
}

// Latency and TTFT count from admission (all requests are ready at 0;
// queueing for a free session slot is not part of a request's latency).
void Engine::Admit(double t) {
  while (in_flight_ < opt_.concurrency && next_request_ < opt_.requests) {
    const int r = static_cast<int>(next_request_++);
    ++in_flight_;
    start_ms_[r] = t;
    state_[0].queue.push_back({r, true});
  }
}

DesResult Engine::Run() {
  Admit(0);
  TryStart(0, 0);
  while (!events_.empty()) {
    const Event e = events_.top();
    events_.pop();
    ++events_done_;
    now_ms_ = e.t;
    if (e.kind == Kind::kStageDone) {
      OnStageDone(e.stage, e.t);
      continue;
    }
    std::vector<WorkItem> items = std::move(messages_[e.message]);
    free_messages_.push_back(e.message);
    if (e.kind == Kind::kTokenArrive) {
      DeliverTokens(items, e.t);
    } else {
      for (const WorkItem& w : items) state_[e.stage].queue.push_back(w);
      TryStart(e.stage, e.t);
    }
  }
  return Summarise();
}

DesResult Engine::Summarise() const {
  DesResult out;
  out.makespan_ms = now_ms_;
  out.events = events_done_;
  out.timeline = timeline_;
  const double n = static_cast<double>(opt_.requests);
  std::vector<double> latencies;
  double decode_rate_sum = 0;
  for (int64_t r = 0; r < opt_.requests; ++r) {
    latencies.push_back(latency_ms_[r]);
    out.mean_latency_ms += latency_ms_[r] / n;
    out.mean_ttft_ms += ttft_ms_[r] / n;
    const double decode_ms = latency_ms_[r] - ttft_ms_[r];
    if (opt_.gen_tokens > 1 && decode_ms > 0) {
      decode_rate_sum += 1e3 * static_cast<double>(opt_.gen_tokens - 1) / decode_ms;
    }
  }
  std::sort(latencies.begin(), latencies.end());
  out.p95_latency_ms = latencies[static_cast<size_t>(0.95 * (latencies.size() - 1))];
  out.decode_tokens_per_s = decode_rate_sum / n;
  out.tokens_per_s = out.makespan_ms > 0
      ? 1e3 * n * static_cast<double>(opt_.gen_tokens) / out.makespan_ms : 0;
  out.mean_batch = decode_steps_ > 0
      ? static_cast<double>(decode_tokens_) / static_cast<double>(decode_steps_) : 0;
  for (const StageState& s : state_) {
    out.stage_utilisation.push_back(out.makespan_ms > 0 ? s.busy_ms / out.makespan_ms : 0);
  }
  return out;
}

}  // namespace

absl::StatusOr<DesResult> Simulate(const std::vector<StageCosts>& stages,
                                   const std::vector<SimLink>& links,
                                   const DesOptions& options) {
  if (stages.empty() || links.size() != stages.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "simulate: want one link per stage (", stages.size(), " stages, ",
        links.size(), " links)"));
  }
  if (options.requests < 1 || options.concurrency < 1 ||
      options.prompt_tokens < 1 || options.gen_tokens < 1 ||
      options.max_batch < 1 || options.activation_bytes_per_token < 0) {
    return absl::InvalidArgumentError(
        "simulate: requests, concurrency, prompt_tokens, gen_tokens and "
        "max_batch must be >= 1, activation bytes >= 0");
  }
  // With one stage no link is used.
  for (size_t i = 0; stages.size() > 1 && i < links.size(); ++i) {
    if (!(links[i].bandwidth_bytes_per_s > 0) || links[i].latency_ms < 0 ||
        links[i].jitter_ms < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "simulate: link ", i, " needs bandwidth > 0 and latency, jitter >= 0"));
    }
  }
  Engine engine(stages, links, options);
  return engine.Run();
}

}  // namespace tessera::sim
