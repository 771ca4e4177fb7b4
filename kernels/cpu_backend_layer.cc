// The compute of CpuBackend::Forward: one pass of up to kMaxRowsPerPass rows
// through the shard's layers and head. Scratch buffers hold the pass's rows:
// norm_ (normed input), q_/k_/v_, att_ (attention output), gate_/up_.
#include <algorithm>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_ops.h"
#include "kernels/simd.h"

namespace tessera::kernels {
namespace {

MatrixRef Ref(const ExecMatrix& m) {
  return MatrixRef{m.format, m.rows, m.cols, m.row_bytes, m.data, m.q4_tiled};
}

float* Floats(const AlignedBuffer& b) {
  return reinterpret_cast<float*>(b.data());
}

// Grain for element-wise row loops: run inline for decode-sized batches.
int64_t RowGrain(int64_t n, int threads) {
  return std::max<int64_t>(4, (n + 2 * threads - 1) / (2 * threads));
}

}  // namespace

void CpuBackend::EnsureScratch(int64_t rows) {
  const model::ModelConfig& c = shard_->config;
  norm_.Reserve<float>(rows * c.dim);
  q_.Reserve<float>(rows * c.dim);
  att_.Reserve<float>(rows * c.dim);
  k_.Reserve<float>(rows * c.kv_dim());
  v_.Reserve<float>(rows * c.kv_dim());
  gate_.Reserve<float>(rows * c.ffn_dim);
  up_.Reserve<float>(rows * c.ffn_dim);
  cos_sin_.Reserve<float>(rows * std::max<int64_t>(c.rope_dim, 1));
  row_position_.resize(rows);
  row_segment_.resize(rows);
}

void CpuBackend::RunPass(const std::vector<Segment>& segments, int64_t begin,
                         int64_t end, float* x) {
  const int64_t n = end - begin;
  EnsureScratch(n);
  for (const Segment& s : segments) {
    for (int64_t i = std::max(begin, s.begin);
         i < std::min(end, s.begin + s.count); ++i) {
      row_position_[i - begin] = s.start + (i - s.begin);
      row_segment_[i - begin] = &s;
    }
  }
  const int64_t rope_dim = shard_->config.rope_dim;
  for (int64_t i = 0; i < n; ++i) {
    RopeAngles(rope_inv_freq_, row_position_[i],
               Floats(cos_sin_) + i * rope_dim);
  }
  for (int64_t l = 0; l < static_cast<int64_t>(shard_->layers.size()); ++l) {
    RunLayer(l, n, x);
  }
}

void CpuBackend::NormRows(const float* x, const std::vector<float>& weight,
                          int64_t n, float* out) {
  const model::ModelConfig& c = shard_->config;
  pool_.ParallelFor(n, RowGrain(n, pool_.num_threads()),
                    [&](int64_t b, int64_t e, int) {
                      for (int64_t i = b; i < e; ++i) {
                        RmsNorm(x + i * c.dim, weight.data(), c.dim, c.norm_eps,
                                out + i * c.dim);
                      }
                    });
}

void CpuBackend::RunLayer(int64_t l, int64_t n, float* x) {
  const model::ModelConfig& c = shard_->config;
  const ExecLayer& L = shard_->layers[l];
  NormRows(x, L.attn_norm, n, Floats(norm_));
  QkvIntoCache(l, n);
  Attention(l, n);
  const MatMulJob wo[] = {{Ref(L.wo), x, c.dim, /*accumulate=*/true}};
  matmul_.Run(wo, Floats(att_), n, c.dim);
  NormRows(x, L.ffn_norm, n, Floats(norm_));
  FeedForward(l, n, x);
}

void CpuBackend::QkvIntoCache(int64_t l, int64_t n) {
  const model::ModelConfig& c = shard_->config;
  const ExecLayer& L = shard_->layers[l];
  const int64_t dim = c.dim, kv_dim = c.kv_dim();
  float *q = Floats(q_), *k = Floats(k_), *v = Floats(v_);
  const MatMulJob qkv[] = {
      {Ref(L.wq), q, dim}, {Ref(L.wk), k, kv_dim}, {Ref(L.wv), v, kv_dim}};
  matmul_.Run(qkv, Floats(norm_), n, dim);
  // Biases, rotary embedding, then the new keys/values into the cache.
  const bool neox = c.arch == model::Architecture::kQwen2;
  pool_.ParallelFor(
      n, RowGrain(n, pool_.num_threads()), [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) {
          float *qi = q + i * dim, *ki = k + i * kv_dim, *vi = v + i * kv_dim;
          if (!L.bq.empty()) simd::Add(L.bq.data(), qi, dim);
          if (!L.bk.empty()) simd::Add(L.bk.data(), ki, kv_dim);
          if (!L.bv.empty()) simd::Add(L.bv.data(), vi, kv_dim);
          const float* cs = Floats(cos_sin_) + i * c.rope_dim;
          ApplyRope(qi, c.n_heads, c.head_dim, c.rope_dim, cs, neox);
          ApplyRope(ki, c.n_kv_heads, c.head_dim, c.rope_dim, cs, neox);
          kv_->Store(row_segment_[i]->session, l, row_position_[i], ki, vi);
        }
      });
}

void CpuBackend::Attention(int64_t l, int64_t n) {
  const model::ModelConfig& c = shard_->config;
  const int64_t group = c.n_heads / c.n_kv_heads;
  const float* q = Floats(q_);
  float* att = Floats(att_);
  // Scores scratch for the longest row of the pass.
  int64_t longest = 0;
  for (int64_t i = 0; i < n; ++i) {
    longest = std::max(longest, row_position_[i] + 1);
  }
  for (AlignedBuffer& b : scores_) b.Reserve<float>(group * longest);
  // One task per (row, KV head): its `group` query heads share the keys.
  pool_.ParallelFor(n * c.n_kv_heads, 1, [&](int64_t b, int64_t e, int thread) {
    for (int64_t task = b; task < e; ++task) {
      const int64_t i = task / c.n_kv_heads, head = task % c.n_kv_heads;
      const int64_t offset = i * c.dim + head * group * c.head_dim;
      AttendGroup(q + offset, group, c.head_dim,
                  kv_->View(row_segment_[i]->session, l), head * c.head_dim,
                  row_position_[i] + 1, Floats(scores_[thread]), att + offset);
    }
  });
}

void CpuBackend::FeedForward(int64_t l, int64_t n, float* x) {
  const model::ModelConfig& c = shard_->config;
  const ExecLayer& L = shard_->layers[l];
  const int64_t ffn = c.ffn_dim;
  float *gate = Floats(gate_), *up = Floats(up_);
  const MatMulJob gate_up[] = {{Ref(L.w_gate), gate, ffn},
                               {Ref(L.w_up), up, ffn}};
  matmul_.Run(gate_up, Floats(norm_), n, c.dim);
  pool_.ParallelFor(
      n, RowGrain(n, pool_.num_threads()), [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) {
          simd::SwiGlu(gate + i * ffn, up + i * ffn, gate + i * ffn, ffn);
        }
      });
  const MatMulJob down[] = {{Ref(L.w_down), x, c.dim, /*accumulate=*/true}};
  matmul_.Run(down, gate, n, ffn);
}

void CpuBackend::Head(const Batch& batch, const float* x, int64_t begin,
                      int64_t n, float* logits) {
  const model::ModelConfig& c = shard_->config;
  float* h = Floats(norm_);
  int64_t outputs = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!batch.rows[begin + i].want_output) continue;
    RmsNorm(x + i * c.dim, shard_->output_norm.data(), c.dim, c.norm_eps,
            h + outputs * c.dim);
    ++outputs;
  }
  if (outputs == 0) return;
  const MatMulJob head[] = {{Ref(shard_->output), logits, c.vocab_size}};
  matmul_.Run(head, h, outputs, c.dim);
}

}  // namespace tessera::kernels
