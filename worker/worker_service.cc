#include "worker/worker_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "worker/link_probe.h"
#include "worker/forward_reactor.h"
#include "worker/profiler.h"

namespace tessera::worker {

WorkerService::WorkerService(WorkerOptions options)
    : options_(std::move(options)),
      registry_(options_.model_dir),
      events_(absl::Seconds(1), [this](v1::Heartbeat& beat) {
        std::shared_ptr<LoadedShard> shard = current_shard();
        if (shard == nullptr) return;
        beat.set_sessions(shard->runner->active_sessions());
        const ShardRunner::BusyStep busy = shard->runner->busy_step();
        beat.set_busy_ms(absl::ToInt64Milliseconds(busy.running));
        beat.set_busy_budget_ms(absl::ToInt64Milliseconds(busy.budget));
      }) {}

WorkerService::~WorkerService() {
  std::shared_ptr<LoadedShard> shard;
  {
    absl::MutexLock lock(&mutex_);
    shard.swap(shard_);
  }
  shard.reset();
}

std::shared_ptr<LoadedShard> WorkerService::current_shard() const {
  absl::MutexLock lock(&mutex_);
  return shard_;
}

grpc::ServerUnaryReactor* WorkerService::RejectUnauthenticated(
    grpc::CallbackServerContext* context) {
  grpc::Status status = CheckToken(*context, options_.token);
  if (status.ok()) return nullptr;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

void WorkerService::FillBackends(
    google::protobuf::RepeatedPtrField<v1::BackendCapabilities>* backends)
    const {
  v1::BackendCapabilities* b = backends->Add();
  b->set_name(options_.backend);
  b->set_description(absl::StrCat(options_.backend, ", ", options_.threads,
                                  " threads"));
  for (auto f : {v1::TENSOR_FORMAT_F32, v1::TENSOR_FORMAT_F16,
                 v1::TENSOR_FORMAT_Q8_0, v1::TENSOR_FORMAT_Q4_0}) {
    b->add_formats(f);
  }
}

grpc::ServerUnaryReactor* WorkerService::Handshake(
    grpc::CallbackServerContext* context, const v1::HandshakeRequest* request,
    v1::HandshakeResponse* response) {
  if (auto* rejected = RejectUnauthenticated(context)) return rejected;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (request->protocol_version() != kProtocolVersion) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("worker ", options_.name, " speaks protocol ",
                     kProtocolVersion, ", peer speaks ",
                     request->protocol_version())));
    return reactor;
  }
  response->set_protocol_version(kProtocolVersion);
  response->set_worker_name(options_.name);
  FillBackends(response->mutable_backends());
  if (!request->has_model()) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  // Hashing model files may take seconds: off the gRPC thread.
  v1::ModelId wanted = request->model();
  tasks_.Post([this, reactor, response, wanted] {
    absl::StatusOr<ModelIdentity> id =
        registry_.Find(wanted.name(), wanted.sha256());
    response->set_model_found(id.ok());
    if (id.ok()) {
      response->mutable_model()->set_name(id->name);
      response->mutable_model()->set_sha256(id->sha256);
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

absl::Status WorkerService::DoProfile(const v1::ProfileRequest& request,
                                      v1::ProfileResponse* response) {
  const std::string& cache = options_.profile_cache_path;
  absl::StatusOr<v1::ProfileResponse> cached =
      cache.empty() || request.refresh()
          ? absl::NotFoundError("no cache")
          : LoadProfileCache(cache);
  if (cached.ok()) {
    *response->mutable_benchmarks() = cached->benchmarks();
    response->set_from_cache(true);
  } else {
    for (auto& b : RunFormatBenchmarks(absl::Milliseconds(800))) {
      *response->add_benchmarks() = b;
    }
  }
  const DeviceFacts facts = ReadDeviceFacts();
  response->set_worker_name(options_.name);
  response->set_cpu_cores(facts.cpu_cores);
  response->set_memory_bytes(facts.memory_bytes);
  response->set_memory_budget_bytes(options_.memory_budget_bytes > 0
                                        ? options_.memory_budget_bytes
                                        : facts.memory_bytes);
  response->set_threads(options_.threads);
  response->set_kv_format(static_cast<v1::TensorFormat>(options_.kv_type));
  FillBackends(response->mutable_backends());
  if (!cached.ok() && !cache.empty()) {
    absl::Status saved = SaveProfileCache(cache, *response);
    if (!saved.ok()) {
      LOG(WARNING) << "worker " << options_.name
                   << ": cannot cache the profile: " << saved.message();
    }
  }
  // The cache keeps this host's figures; planners see the emulated device.
  *response = EmulatedProfile(std::move(*response), options_.emulate_slowdown);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* WorkerService::Profile(
    grpc::CallbackServerContext* context, const v1::ProfileRequest* request,
    v1::ProfileResponse* response) {
  if (auto* rejected = RejectUnauthenticated(context)) return rejected;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  tasks_.Post([this, reactor, request, response] {
    reactor->Finish(ToGrpc(DoProfile(*request, response)));
  });
  return reactor;
}

grpc::ServerUnaryReactor* WorkerService::LoadShard(
    grpc::CallbackServerContext* context, const v1::LoadShardRequest* request,
    v1::LoadShardResponse* response) {
  if (auto* rejected = RejectUnauthenticated(context)) return rejected;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  tasks_.Post([this, reactor, request, response] {
    {  // Drop the old shard first: its memory counts against the budget.
      std::shared_ptr<LoadedShard> old;
      absl::MutexLock lock(&mutex_);
      old.swap(shard_);
    }
    auto publish = [this](const v1::WorkerEvent& e) { events_.Publish(e); };
    absl::StatusOr<std::unique_ptr<LoadedShard>> shard =
        worker::LoadShard(options_, registry_, *request, publish);
    if (!shard.ok()) {
      reactor->Finish(ToGrpc(Annotate(
          shard.status(), absl::StrCat("worker ", options_.name,
                                       ": load shard"))));
      return;
    }
    *response = (*shard)->response;
    LOG(INFO) << "worker " << options_.name << ": loaded layers ["
              << request->first_layer() << ", " << request->end_layer()
              << ") in " << response->load_ms() << " ms on "
              << response->backend_description();
    absl::MutexLock lock(&mutex_);
    shard_ = std::move(*shard);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerBidiReactor<v1::ForwardFrame, v1::ForwardAck>*
WorkerService::Forward(grpc::CallbackServerContext* context) {
  return new ForwardReactor(this, CheckToken(*context, options_.token));
}

grpc::ServerWriteReactor<v1::WorkerEvent>* WorkerService::Events(
    grpc::CallbackServerContext* context, const v1::EventsRequest* request) {
  auto* reactor = new EventsReactor();
  grpc::Status status = CheckToken(*context, options_.token);
  if (!status.ok()) {
    reactor->queue()->Finish(status);
  } else {
    events_.Subscribe(reactor->queue());
  }
  return reactor;
}

grpc::ServerUnaryReactor* WorkerService::LinkProbe(
    grpc::CallbackServerContext* context, const v1::LinkProbeRequest* request,
    v1::LinkProbeResponse* response) {
  if (auto* rejected = RejectUnauthenticated(context)) return rejected;
  constexpr int64_t kMaxReply = 64 << 20;
  if (request->reply_bytes() > 0) {
    response->set_payload(
        std::string(std::min(request->reply_bytes(), kMaxReply), 'x'));
  } else {
    response->set_payload(request->payload());
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkerService::MeasureLink(
    grpc::CallbackServerContext* context,
    const v1::MeasureLinkRequest* request, v1::MeasureLinkResponse* response) {
  if (auto* rejected = RejectUnauthenticated(context)) return rejected;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  tasks_.Post([this, reactor, request, response] {
    absl::StatusOr<v1::MeasureLinkResponse> result =
        MeasurePeerLink(options_, *request);
    if (result.ok()) *response = *result;
    reactor->Finish(ToGrpc(result.status()));
  });
  return reactor;
}

}  // namespace tessera::worker
