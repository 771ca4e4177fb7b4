#include "coordinator/coordinator.h"

#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "coordinator/link_survey.h"
#include "model/chat_template.h"
#include "model/sampler.h"
#include "worker/model_registry.h"

namespace tessera::coordinator {
namespace {

v1::ModelId ToProto(const worker::ModelIdentity& id) {
  v1::ModelId proto;
  proto.set_name(id.name);
  proto.set_sha256(id.sha256);
  return proto;
}

// Fills `workers` from the cluster file and checks the link options.
absl::Status ResolveWorkers(CoordinatorOptions& o) {
  if (o.links != "measured" && o.links != "declared") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown link source '", o.links, "' (measured, declared)"));
  }
  if (!o.cluster.has_value()) {
    if (o.links == "declared") {
      return absl::InvalidArgumentError(
          "declared links need a cluster file (--cluster)");
    }
    // One worker process holds one shard: a worker listed twice would have
    // its first stage replaced by its second.
    absl::flat_hash_set<std::string> seen;
    for (const std::string& address : o.workers) {
      if (!seen.insert(address).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("worker ", address, " is listed twice"));
      }
    }
    return absl::OkStatus();
  }
  if (!o.workers.empty()) {
    return absl::InvalidArgumentError(
        "give workers either as a list or in a cluster file, not both");
  }
  for (const ClusterMember& m : o.cluster->members) o.workers.push_back(m.address);
  return absl::OkStatus();
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(std::move(options)) {
  std::random_device random;
  absl::MutexLock lock(&mutex_);
  // Session ids stay unique across coordinator restarts.
  next_session_ = (static_cast<uint64_t>(random()) << 32) | 1;
}

Coordinator::~Coordinator() {
  {
    absl::MutexLock lock(&mutex_);
    stop_ = true;
  }
  if (watchdog_.joinable()) watchdog_.join();
  workers_.clear();  // joins the event readers, which use stage0_
  stage0_.reset();
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    CoordinatorOptions options) {
  TESSERA_RETURN_IF_ERROR(ResolveWorkers(options));
  std::unique_ptr<Coordinator> c(new Coordinator(std::move(options)));
  const CoordinatorOptions& o = c->options_;
  TESSERA_ASSIGN_OR_RETURN(c->model_, model::ModelFile::Open(o.model_path));
  TESSERA_ASSIGN_OR_RETURN(worker::ModelIdentity id,
                           worker::IdentifyModel(o.model_path));
  c->model_id_ = ToProto(id);
  const int64_t ctx = c->model_->config.context_length;
  c->max_tokens_ = o.max_context_tokens > 0
                       ? std::min(o.max_context_tokens, ctx) : ctx;
  TESSERA_RETURN_IF_ERROR(c->Connect());
  TESSERA_RETURN_IF_ERROR(c->ProfileWorkers());
  TESSERA_ASSIGN_OR_RETURN(c->plan_, c->MakePlan());
  TESSERA_RETURN_IF_ERROR(c->LoadStages());
  c->watchdog_ = std::thread([raw = c.get()] { raw->WatchdogLoop(); });
  return c;
}

absl::Status Coordinator::Connect() {
  if (options_.workers.empty()) {
    return absl::InvalidArgumentError(
        "no workers given (--workers A,B,C or --cluster FILE)");
  }
  TESSERA_ASSIGN_OR_RETURN(auto creds,
                           worker::MakeChannelCredentials(options_.tls));
  for (const std::string& address : options_.workers) {
    auto client = std::make_unique<WorkerClient>(
        address, worker::MakeChannel(address, creds), options_.token);
    TESSERA_ASSIGN_OR_RETURN(v1::HandshakeResponse hello,
                             client->Handshake(model_id_));
    if (!hello.model_found()) {
      return absl::FailedPreconditionError(absl::StrCat(
          client->label(), " does not have model ", model_id_.name(),
          " (sha256 ", model_id_.sha256(), ") in its model directory"));
    }
    workers_.push_back(std::move(client));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::ProfileWorkers() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    TESSERA_ASSIGN_OR_RETURN(v1::ProfileResponse profile, workers_[i]->Profile());
    if (options_.cluster.has_value()) {
      const ClusterMember& member = options_.cluster->members[i];
      if (member.name != workers_[i]->name()) {
        LOG(WARNING) << workers_[i]->label() << " is device '" << member.name
                     << "' in the cluster file";
      }
      const int64_t cap = member.memory_budget_bytes;
      if (cap > 0 && cap < profile.memory_budget_bytes()) {
        profile.set_memory_budget_bytes(cap);
      }
    }
    profiles_.push_back(std::move(profile));
  }
  return absl::OkStatus();
}

std::vector<std::string> Coordinator::PlannerNames() const {
  std::vector<std::string> names;
  absl::flat_hash_set<std::string> taken;
  for (size_t i = 0; i < workers_.size(); ++i) {
    std::string name = options_.cluster.has_value()
                           ? options_.cluster->members[i].name
                           : workers_[i]->name();
    if (!taken.insert(name).second) {  // workers may share a name
      name = absl::StrCat(name, "#", i);
      taken.insert(name);
    }
    names.push_back(std::move(name));
  }
  return names;
}

void Coordinator::AddLinks(MeasuredCluster& measured) const {
  if (options_.links == "declared") {
    measured.links = options_.cluster->links;
    measured.default_link = options_.cluster->default_link;
    return;
  }
  std::vector<WorkerClient*> clients;
  for (const auto& w : workers_) clients.push_back(w.get());
  LinkSurvey survey = SurveyLinks(clients, measured.names);
  for (const std::string& failure : survey.failures) {
    LOG(WARNING) << "link not measured, not used: " << failure;
  }
  measured.links = std::move(survey.links);
  measured.default_link = survey.default_link;
}

absl::StatusOr<StagePlan> Coordinator::MakePlan() {
  const int64_t n_layers = model_->config.n_layers;
  const int n_workers = static_cast<int>(workers_.size());
  if (options_.planner == "even") {
    return PlanEvenSplit(n_layers, n_workers, options_.format);
  }
  if (options_.planner != "partitioner") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown planner '", options_.planner, "' (partitioner, even)"));
  }
  MeasuredCluster measured;
  measured.profiles = profiles_;
  measured.names = PlannerNames();
  AddLinks(measured);
  absl::StatusOr<StagePlan> plan = PlanWithPartitioner(
      model_->config, measured, options_.format, options_.codec.codec);
  if (plan.ok()) return plan;
  LOG(WARNING) << "planning with the partitioner failed, splitting evenly: "
               << plan.status().message();
  absl::StatusOr<StagePlan> even =
      PlanEvenSplit(n_layers, n_workers, options_.format);
  if (even.ok()) {
    even->planner = absl::StrCat("even split (partitioner failed: ",
                                 plan.status().message(), ")");
  }
  return even;
}

v1::LoadShardRequest Coordinator::ShardRequest(size_t i) const {
  const StageAssignment& a = stages_[i].assignment;
  v1::LoadShardRequest request;
  *request.mutable_model() = model_id_;
  request.set_stage_index(static_cast<int>(i));
  request.set_first_layer(a.first_layer);
  request.set_end_layer(a.end_layer);
  for (model::GgmlType f : a.formats) {
    request.add_layer_formats(static_cast<v1::TensorFormat>(f));
  }
  request.set_has_embedding(a.has_embedding);
  request.set_has_head(a.has_head);
  if (a.has_head && !a.formats.empty()) {
    request.set_head_format(
        static_cast<v1::TensorFormat>(HeadFormatFor(a.formats.back())));
  }
  if (i + 1 < stages_.size()) {
    const WorkerClient& next = *workers_[stages_[i + 1].assignment.worker];
    request.set_next_stage_address(next.address());
    request.set_next_stage_name(next.name());
  }
  request.mutable_output_codec()->set_codec(
      static_cast<v1::ActivationCodec>(options_.codec.codec));
  request.mutable_output_codec()->set_zstd_level(options_.codec.zstd_level);
  request.set_max_context_tokens(max_tokens_);
  request.set_session_idle_timeout_ms(
      absl::ToInt64Milliseconds(options_.session_idle_timeout));
  return request;
}

absl::Status Coordinator::LoadStages() {
  for (const StageAssignment& a : plan_.stages) {
    Stage stage;
    stage.assignment = a;
    stage.profile = profiles_[a.worker];
    stages_.push_back(std::move(stage));
  }
  for (size_t i = 0; i < stages_.size(); ++i) {
    const StageAssignment& a = stages_[i].assignment;
    TESSERA_ASSIGN_OR_RETURN(stages_[i].loaded,
                             workers_[a.worker]->LoadShard(ShardRequest(i)));
  }
  std::vector<StageKv> kv;
  for (const Stage& stage : stages_) {
    const v1::LoadShardResponse& l = stage.loaded;
    kv.push_back({workers_[stage.assignment.worker]->name(),
                  l.kv_budget_bytes(), l.kv_bytes_per_token(),
                  l.kv_page_tokens(), l.kv_growth()});
  }
  {
    absl::MutexLock lock(&mutex_);
    admission_ = KvAdmission(std::move(kv));
  }
  for (const Stage& stage : stages_) {  // workers outside the plan idle
    workers_[stage.assignment.worker]->StartEvents(
        [this](const v1::WorkerEvent& e) { OnEvent(e); },
        [this](const absl::Status& s) { OnWorkerDead(s); });
  }
  OpenStage0Link();
  return absl::OkStatus();
}

void Coordinator::OpenStage0Link() {
  WorkerClient& first = *workers_[stages_[0].assignment.worker];
  worker::StageLink::Options link;
  link.peer_name = first.label();
  link.token = options_.token;
  // Frames stage 0 refused or lost: their requests fail now rather than at
  // the client's deadline, and the other stages free their KV.
  auto fail = [this](const absl::Status& status,
                     const std::vector<uint64_t>& sessions) {
    absl::MutexLock lock(&mutex_);
    if (stop_) return;  // stage0_ is going away
    for (uint64_t id : sessions) {
      auto it = requests_.find(id);
      if (it == requests_.end()) continue;
      it->second->Fail(status);
      Release(id);
    }
  };
  link.on_broken = fail;
  link.on_refused = fail;
  stage0_ = std::make_unique<worker::StageLink>(first.channel(), std::move(link));
}

absl::StatusOr<std::vector<int32_t>> Coordinator::Tokenize(
    const v1::GenerateRequest& request) const {
  const model::Tokenizer& tok = *model_->tokenizer;
  if (!request.chat()) return tok.Encode(request.prompt(), tok.add_bos_default());
  // The same prompt as `tessera run --chat` (the template's default system
  // turn, the tokenizer's own BOS/EOS text); models without a known
  // template get a plain User/Assistant format.
  const model::ChatPrompt chat = model::FormatChatPrompt(
      tok, {{"user", request.prompt()}}, /*add_generation_prompt=*/true);
  return tok.Encode(chat.text, tok.add_bos_default(), false,
                    /*parse_special=*/true);
}

absl::StatusOr<uint64_t> Coordinator::StartGenerate(
    const v1::GenerateRequest& request,
    std::shared_ptr<ResponseQueue> responses) {
  if (request.max_new_tokens() <= 0) {
    return absl::InvalidArgumentError("max_new_tokens must be positive");
  }
  TESSERA_RETURN_IF_ERROR(
      model::ValidateSamplingParams(worker::SamplingFromProto(request.sampling())));
  TESSERA_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, Tokenize(request));
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt is empty");
  if (static_cast<int64_t>(prompt.size()) >= max_tokens_) {
    return absl::OutOfRangeError(absl::StrCat(
        "the prompt has ", prompt.size(), " tokens, the context holds ",
        max_tokens_));
  }
  // The session at its longest: what admission reserves on every stage.
  const int64_t longest = std::min<int64_t>(
      static_cast<int64_t>(prompt.size()) + request.max_new_tokens(),
      max_tokens_);
  absl::MutexLock lock(&mutex_);
  if (!cluster_down_.ok()) return cluster_down_;
  TESSERA_RETURN_IF_ERROR(admission_.CheckFits(longest));
  const uint64_t id = next_session_++;
  requests_[id] = std::make_unique<GenerationRequest>(
      id, *model_->tokenizer, std::move(prompt), request, max_tokens_,
      std::move(responses));
  waiting_.push_back({id, longest});
  AdmitWaiting();
  return id;
}

void Coordinator::AdmitWaiting() {
  while (!waiting_.empty()) {
    const auto [id, longest] = waiting_.front();
    auto it = requests_.find(id);
    if (it != requests_.end()) {
      if (!admission_.TryAdmit(id, longest)) return;  // first come, first run
      stage0_->Send(it->second->StartFrame());
    }
    waiting_.pop_front();
  }
}

void Coordinator::Release(uint64_t session_id) {
  requests_.erase(session_id);
  v1::ForwardFrame release;
  release.add_release_sessions(session_id);
  stage0_->Send(std::move(release));
  // After the release: stages free the session's KV before new ones start.
  admission_.Release(session_id);
  AdmitWaiting();
}

void Coordinator::Cancel(uint64_t session_id) {
  absl::MutexLock lock(&mutex_);
  auto it = requests_.find(session_id);
  if (it == requests_.end()) return;
  it->second->Fail(absl::CancelledError("cancelled by the client"));
  Release(session_id);
}

void Coordinator::OnEvent(const v1::WorkerEvent& event) {
  absl::MutexLock lock(&mutex_);
  if (event.has_token()) {
    auto it = requests_.find(event.token().session_id());
    if (it == requests_.end()) return;
    if (it->second->generated_tokens() > 0) RecordTimings(event.token());
    std::optional<v1::ForwardFrame> next = it->second->OnToken(event.token());
    if (next.has_value()) {
      stage0_->Send(*std::move(next));
    } else if (it->second->done()) {
      Release(event.token().session_id());
    }
  } else if (event.has_error()) {
    auto it = requests_.find(event.error().session_id());
    if (it == requests_.end()) return;
    it->second->Fail(absl::Status(
        static_cast<absl::StatusCode>(event.error().code()),
        event.error().message()));
    Release(event.error().session_id());
  }
}

void Coordinator::RecordTimings(const v1::TokenEvent& event) {
  for (const v1::StageTiming& t : event.timings()) {
    StageTotals& totals = stage_totals_[t.worker_name()];
    totals.compute_us += t.compute_us();
    ++totals.steps;
  }
}

void Coordinator::OnWorkerDead(const absl::Status& reason) {
  LOG(ERROR) << reason.message();
  absl::MutexLock lock(&mutex_);
  if (cluster_down_.ok()) cluster_down_ = reason;
  for (auto& [id, request] : requests_) {
    request->Fail(reason);
    admission_.Release(id);
  }
  requests_.clear();
  waiting_.clear();
}

void Coordinator::WatchdogLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mutex_);
      mutex_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(250));
      if (stop_) return;
    }
    for (auto& w : workers_) w->CheckLiveness(options_.liveness_timeout);
  }
}

v1::ClusterStatusResponse Coordinator::ClusterStatus() const {
  v1::ClusterStatusResponse status;
  *status.mutable_model() = model_id_;
  status.mutable_codec()->set_codec(
      static_cast<v1::ActivationCodec>(options_.codec.codec));
  status.mutable_codec()->set_zstd_level(options_.codec.zstd_level);
  status.set_planner(plan_.planner);
  for (const Stage& stage : stages_) {
    const StageAssignment& a = stage.assignment;
    const WorkerClient& w = *workers_[a.worker];
    v1::StageStatus* s = status.add_stages();
    s->set_worker_name(w.name());
    s->set_address(w.address());
    s->set_state(w.alive() ? "ready" : std::string(w.dead_reason().message()));
    s->set_first_layer(a.first_layer);
    s->set_end_layer(a.end_layer);
    for (model::GgmlType f : a.formats) {
      s->add_layer_formats(static_cast<v1::TensorFormat>(f));
    }
    s->set_has_embedding(a.has_embedding);
    s->set_has_head(a.has_head);
    s->set_weight_bytes(stage.loaded.weight_bytes());
    s->set_memory_budget_bytes(stage.profile.memory_budget_bytes());
    s->set_backend(stage.loaded.backend_description());
    s->set_cpu_cores(stage.profile.cpu_cores());
  }
  absl::MutexLock lock(&mutex_);
  for (v1::StageStatus& s : *status.mutable_stages()) {
    auto it = stage_totals_.find(s.worker_name());
    if (it == stage_totals_.end() || it->second.steps == 0) continue;
    s.set_compute_ms_per_token(it->second.compute_us / 1000.0 /
                               it->second.steps);
  }
  status.set_active_requests(static_cast<int>(admission_.admitted()));
  status.set_queued_requests(
      static_cast<int>(requests_.size() - admission_.admitted()));
  return status;
}

}  // namespace tessera::coordinator
