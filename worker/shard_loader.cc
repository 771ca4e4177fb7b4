#include "worker/shard_loader.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "worker/profiler.h"
#include "worker/reference_backend.h"

namespace tessera::worker {
namespace {


int64_t MatrixBytes(model::GgmlType type, int64_t rows, int64_t cols) {
  absl::StatusOr<int64_t> row = model::RowBytes(type, cols);
  return rows * (row.ok() ? *row : 2 * cols);  // unfit rows stay in f16
}

absl::StatusOr<kernels::ShardSpec> SpecFromRequest(
    const v1::LoadShardRequest& request, const model::ModelConfig& config) {
  kernels::ShardSpec spec;
  spec.first_layer = request.first_layer();
  spec.end_layer = request.end_layer();
  spec.has_embedding = request.has_embedding();
  spec.has_head = request.has_head();
  if (spec.first_layer < 0 || spec.first_layer > spec.end_layer ||
      spec.end_layer > config.n_layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layer range [", spec.first_layer, ", ", spec.end_layer,
        ") does not fit the model's ", config.n_layers, " layers"));
  }
  const int64_t n = spec.end_layer - spec.first_layer;
  if (request.layer_formats_size() != 0 && request.layer_formats_size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(request.layer_formats_size(), " layer formats for ", n,
                     " layers"));
  }
  for (int64_t i = 0; i < n; ++i) {
    spec.layer_formats.push_back(
        request.layer_formats_size() == 0
            ? model::GgmlType::kF32
            : static_cast<model::GgmlType>(request.layer_formats(i)));
  }
  spec.head_format = static_cast<model::GgmlType>(request.head_format());
  if (request.next_stage_address().empty() != spec.has_head) {
    return absl::InvalidArgumentError(
        "exactly the stage with the head has no next stage");
  }
  return spec;
}

absl::StatusOr<std::unique_ptr<StageLink>> MakeNextLink(
    const WorkerOptions& options, const v1::LoadShardRequest& request,
    EventPublisher publish) {
  TESSERA_ASSIGN_OR_RETURN(auto creds, MakeChannelCredentials(options.tls));
  StageLink::Options link;
  link.peer_name = absl::StrCat("worker ", request.next_stage_name(), " (",
                                request.next_stage_address(), ")");
  link.token = options.token;
  link.emulation = options.emulate_link;
  // Sessions of frames the next stage refused or lost: reported to the
  // coordinator, which fails their requests and releases them everywhere.
  auto fail = [publish, name = options.name](
                  const absl::Status& status,
                  const std::vector<uint64_t>& sessions) {
    for (uint64_t id : sessions) publish(SessionErrorEvent(name, id, status));
  };
  link.on_refused = fail;
  link.on_broken = fail;
  return std::make_unique<StageLink>(
      MakeChannel(request.next_stage_address(), creds), std::move(link));
}

absl::Status CheckCodec(const v1::CodecConfig& codec) {
  if (codec.codec() < 0 || codec.codec() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown activation codec ", codec.codec()));
  }
  if (codec.zstd_level() < 0 || codec.zstd_level() > 19) {
    return absl::InvalidArgumentError(
        absl::StrCat("zstd level ", codec.zstd_level(), " is out of range"));
  }
  return absl::OkStatus();
}

// The last stage's events cross the emulated link back to the coordinator.
EventPublisher DelayedPublisher(const LinkEmulation& link,
                                EventPublisher publish) {
  if (!link.enabled()) return publish;
  auto line = std::make_shared<DelayLine>(link);
  return [line, publish](const v1::WorkerEvent& event) {
    line->Push(static_cast<int64_t>(event.ByteSizeLong()),
               [publish, event] { publish(event); });
  };
}

}  // namespace

absl::StatusOr<std::unique_ptr<kernels::Backend>> MakeBackend(
    const std::string& name, const kernels::BackendOptions& options) {
  if (name == "reference") {
    if (options.kv_type != model::GgmlType::kF32) {
      return absl::InvalidArgumentError(
          "the reference backend keeps its KV cache in f32");
    }
    return std::unique_ptr<kernels::Backend>(new ReferenceBackend(options));
  }
  return kernels::CreateBackend(name, options);
}

int64_t EstimateShardBytes(const model::ModelConfig& config,
                           const kernels::ShardSpec& spec,
                           int64_t kv_budget_bytes) {
  int64_t bytes = kv_budget_bytes;
  const int64_t d = config.dim, kv = config.kv_dim(), f = config.ffn_dim;
  for (model::GgmlType type : spec.layer_formats) {
    bytes += MatrixBytes(type, d, d) * 2 + MatrixBytes(type, kv, d) * 2 +
             MatrixBytes(type, f, d) * 2 + MatrixBytes(type, d, f) + 8 * d;
  }
  if (spec.has_embedding) bytes += 4 * config.vocab_size * d;
  if (spec.has_head) bytes += MatrixBytes(spec.head_format, config.vocab_size, d);
  return bytes;
}

absl::StatusOr<std::unique_ptr<LoadedShard>> LoadShard(
    const WorkerOptions& options, ModelRegistry& registry,
    const v1::LoadShardRequest& request, EventPublisher publish) {
  const absl::Time start = absl::Now();
  TESSERA_ASSIGN_OR_RETURN(
      ModelIdentity id,
      registry.Find(request.model().name(), request.model().sha256()));
  auto shard = std::make_unique<LoadedShard>();
  shard->request = request;
  TESSERA_ASSIGN_OR_RETURN(shard->model, model::ModelFile::Open(id.path));
  const model::ModelConfig& config = shard->model->config;
  TESSERA_ASSIGN_OR_RETURN(kernels::ShardSpec spec,
                           SpecFromRequest(request, config));
  TESSERA_RETURN_IF_ERROR(CheckCodec(request.output_codec()));
  kernels::BackendOptions backend_options;
  backend_options.threads = options.threads;
  backend_options.kv_type = options.kv_type;
  backend_options.kv_budget_bytes = options.kv_budget_bytes;
  backend_options.max_context_tokens = request.max_context_tokens();
  const int64_t budget = options.memory_budget_bytes > 0
                             ? options.memory_budget_bytes
                             : ReadDeviceFacts().memory_bytes;
  const int64_t need =
      EstimateShardBytes(config, spec, options.kv_budget_bytes);
  if (need > budget) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "shard [", spec.first_layer, ", ", spec.end_layer, ") needs ", need,
        " bytes, the memory budget is ", budget));
  }
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<kernels::Backend> backend,
                           MakeBackend(options.backend, backend_options));
  TESSERA_ASSIGN_OR_RETURN(kernels::ShardReport report,
                           backend->LoadShard(shard->model->weights, spec));
  v1::LoadShardResponse& response = shard->response;
  response.set_weight_bytes(report.weight_bytes);
  response.set_kv_bytes_per_token(report.kv_bytes_per_token);
  response.set_kv_budget_bytes(report.kv_budget_bytes);
  response.set_kv_page_tokens(report.kv_page_tokens);
  response.set_kv_growth(report.kv_growth);
  for (const std::string& note : report.notes) response.add_notes(note);
  response.set_backend_description(backend->Describe());

  std::unique_ptr<StageLink> next;
  if (!spec.has_head) {
    TESSERA_ASSIGN_OR_RETURN(next, MakeNextLink(options, request, publish));
  } else {
    publish = DelayedPublisher(options.emulate_link, std::move(publish));
  }
  ShardRunnerConfig runner_config;
  runner_config.worker_name = options.name;
  runner_config.spec = spec;
  runner_config.dim = config.dim;
  runner_config.vocab_size = config.vocab_size;
  runner_config.emulate_slowdown = options.emulate_slowdown;
  runner_config.fault_hang_after_steps = options.fault_hang_after_steps;
  runner_config.compute_on_calling_thread =
      options.threads == 1 &&
      (options.backend == "cpu" || options.backend == "reference");
  runner_config.output_codec.codec =
      static_cast<Codec>(request.output_codec().codec());
  runner_config.output_codec.zstd_level = request.output_codec().zstd_level();
  if (request.session_idle_timeout_ms() > 0) {
    runner_config.idle_timeout =
        absl::Milliseconds(request.session_idle_timeout_ms());
  }
  shard->runner = std::make_unique<ShardRunner>(
      std::move(runner_config), std::move(backend), std::move(next),
      std::move(publish));
  response.set_load_ms(absl::ToInt64Milliseconds(absl::Now() - start));
  return shard;
}

}  // namespace tessera::worker
