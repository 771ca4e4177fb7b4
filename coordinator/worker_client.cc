#include "coordinator/worker_client.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "worker/rpc_util.h"

namespace tessera::coordinator {
namespace {

constexpr absl::Duration kHandshakeTimeout = absl::Seconds(30);
constexpr absl::Duration kProfileTimeout = absl::Seconds(60);
constexpr absl::Duration kLoadTimeout = absl::Seconds(300);

}  // namespace

WorkerClient::WorkerClient(std::string address,
                           std::shared_ptr<grpc::Channel> channel,
                           std::string token)
    : address_(std::move(address)),
      channel_(std::move(channel)),
      token_(std::move(token)),
      stub_(v1::WorkerService::NewStub(channel_)) {
  absl::MutexLock lock(&mutex_);
  name_ = address_;
  last_event_ = absl::Now();
}

WorkerClient::~WorkerClient() {
  {
    absl::MutexLock lock(&mutex_);
    if (events_context_ != nullptr) events_context_->TryCancel();
  }
  if (reader_.joinable()) reader_.join();
}

std::string WorkerClient::name() const {
  absl::MutexLock lock(&mutex_);
  return name_;
}

std::string WorkerClient::label() const {
  return absl::StrCat("worker ", name(), " (", address_, ")");
}

absl::StatusOr<v1::HandshakeResponse> WorkerClient::Handshake(
    const v1::ModelId& model) {
  v1::HandshakeRequest request;
  request.set_protocol_version(worker::kProtocolVersion);
  request.set_peer_name("coordinator");
  *request.mutable_model() = model;
  v1::HandshakeResponse response;
  auto context = worker::MakeContext(token_, kHandshakeTimeout);
  TESSERA_RETURN_IF_ERROR_CTX(
      worker::ToAbsl(stub_->Handshake(context.get(), request, &response)),
      absl::StrCat(label(), ": handshake"));
  if (response.protocol_version() != worker::kProtocolVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(label(), " speaks protocol ", response.protocol_version()));
  }
  absl::MutexLock lock(&mutex_);
  name_ = response.worker_name();
  return response;
}

absl::StatusOr<v1::ProfileResponse> WorkerClient::Profile() {
  v1::ProfileResponse response;
  auto context = worker::MakeContext(token_, kProfileTimeout);
  TESSERA_RETURN_IF_ERROR_CTX(
      worker::ToAbsl(stub_->Profile(context.get(), {}, &response)),
      absl::StrCat(label(), ": profile"));
  return response;
}

absl::StatusOr<v1::LoadShardResponse> WorkerClient::LoadShard(
    const v1::LoadShardRequest& request) {
  v1::LoadShardResponse response;
  auto context = worker::MakeContext(token_, kLoadTimeout);
  TESSERA_RETURN_IF_ERROR_CTX(
      worker::ToAbsl(stub_->LoadShard(context.get(), request, &response)),
      absl::StrCat(label(), ": load shard"));
  return response;
}

absl::StatusOr<v1::MeasureLinkResponse> WorkerClient::MeasureLink(
    const std::string& peer_address) {
  v1::MeasureLinkRequest request;
  request.set_peer_address(peer_address);
  request.set_round_trips(10);
  request.set_payload_bytes(1 << 20);
  v1::MeasureLinkResponse response;
  auto context = worker::MakeContext(token_, kProfileTimeout);
  TESSERA_RETURN_IF_ERROR_CTX(
      worker::ToAbsl(stub_->MeasureLink(context.get(), request, &response)),
      absl::StrCat(label(), ": measure link to ", peer_address));
  return response;
}

void WorkerClient::StartEvents(EventFn on_event, DeadFn on_dead) {
  on_event_ = std::move(on_event);
  on_dead_ = std::move(on_dead);
  {
    absl::MutexLock lock(&mutex_);
    events_context_ = worker::MakeContext(token_, absl::InfiniteDuration());
    last_event_ = absl::Now();
  }
  reader_ = std::thread([this] { ReadEvents(); });
}

void WorkerClient::ReadEvents() {
  grpc::ClientContext* context;
  {
    absl::MutexLock lock(&mutex_);
    context = events_context_.get();
  }
  auto reader = stub_->Events(context, v1::EventsRequest());
  v1::WorkerEvent event;
  while (reader->Read(&event)) {
    {
      absl::MutexLock lock(&mutex_);
      last_event_ = absl::Now();
    }
    if (!event.has_heartbeat()) {
      on_event_(event);
    } else if (event.heartbeat().busy_ms() > event.heartbeat().busy_budget_ms() &&
               event.heartbeat().busy_budget_ms() > 0) {
      MarkDead(absl::UnavailableError(absl::StrCat(
          label(), " is unavailable: its compute step has run for ",
          event.heartbeat().busy_ms(), " ms, over its budget of ",
          event.heartbeat().busy_budget_ms(), " ms (hung)")));
    }
  }
  grpc::Status status = reader->Finish();
  MarkDead(absl::UnavailableError(absl::StrCat(
      label(), " is unavailable: event stream ended: ",
      status.ok() ? "closed by the worker" : status.error_message())));
}

void WorkerClient::CheckLiveness(absl::Duration timeout) {
  absl::Duration silent;
  {
    absl::MutexLock lock(&mutex_);
    if (events_context_ == nullptr || !dead_.ok()) return;
    silent = absl::Now() - last_event_;
  }
  if (silent > timeout) {
    MarkDead(absl::UnavailableError(
        absl::StrCat(label(), " is unavailable: no heartbeat for ",
                     absl::FormatDuration(silent))));
  }
}

void WorkerClient::MarkDead(const absl::Status& reason) {
  {
    absl::MutexLock lock(&mutex_);
    if (!dead_.ok()) return;
    dead_ = reason;
    if (events_context_ != nullptr) events_context_->TryCancel();
  }
  if (on_dead_) on_dead_(reason);
}

bool WorkerClient::alive() const {
  absl::MutexLock lock(&mutex_);
  return dead_.ok();
}

absl::Status WorkerClient::dead_reason() const {
  absl::MutexLock lock(&mutex_);
  return dead_;
}

}  // namespace tessera::coordinator
