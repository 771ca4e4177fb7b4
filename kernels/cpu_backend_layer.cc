// The compute of CpuBackend::Forward: one pass of up to kMaxRowsPerPass rows
// through the shard's layers and head.
#include <algorithm>
#include <cstring>

#include "kernels/cpu_backend.h"
#include "kernels/cpu_ops.h"
#include "kernels/simd.h"

namespace tessera::kernels {
namespace {

MatrixRef Ref(const ExecMatrix& m) {
  return MatrixRef{m.format, m.rows, m.cols, m.row_bytes, m.data};
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
  float* cos_sin = cos_sin_.Reserve<float>(n * std::max<int64_t>(rope_dim, 1));
  for (int64_t i = 0; i < n; ++i) {
    RopeAngles(rope_inv_freq_, row_position_[i], cos_sin + i * rope_dim);
  }
  for (int64_t l = 0; l < static_cast<int64_t>(shard_->layers.size()); ++l) {
    RunLayer(l, segments, begin, n, x);
  }
}

void CpuBackend::RunLayer(int64_t l, const std::vector<Segment>& segments,
                          int64_t begin, int64_t n, float* x) {
  const model::ModelConfig& c = shard_->config;
  const ExecLayer& L = shard_->layers[l];
  const int64_t dim = c.dim, kv_dim = c.kv_dim(), ffn = c.ffn_dim;
  const int threads = pool_.num_threads();
  float* h = reinterpret_cast<float*>(norm_.data());
  float* q = reinterpret_cast<float*>(q_.data());
  float* k = reinterpret_cast<float*>(k_.data());
  float* v = reinterpret_cast<float*>(v_.data());
  float* gate = reinterpret_cast<float*>(gate_.data());
  float* up = reinterpret_cast<float*>(up_.data());
  auto norm_rows = [&](const std::vector<float>& weight) {
    pool_.ParallelFor(n, RowGrain(n, threads), [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        RmsNorm(x + i * dim, weight.data(), dim, c.norm_eps, h + i * dim);
      }
    });
  };

  norm_rows(L.attn_norm);
  const MatMulJob qkv[] = {{Ref(L.wq), q, dim}, {Ref(L.wk), k, kv_dim},
                           {Ref(L.wv), v, kv_dim}};
  matmul_.Run(qkv, h, n, dim);
  // Biases, rotary embedding, and the new keys/values into the cache.
  const float* cos_sin = reinterpret_cast<const float*>(cos_sin_.data());
  const bool neox = c.arch == model::Architecture::kQwen2;
  pool_.ParallelFor(n, RowGrain(n, threads), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float* qi = q + i * dim;
      float* ki = k + i * kv_dim;
      float* vi = v + i * kv_dim;
      if (!L.bq.empty()) simd::Add(L.bq.data(), qi, dim);
      if (!L.bk.empty()) simd::Add(L.bk.data(), ki, kv_dim);
      if (!L.bv.empty()) simd::Add(L.bv.data(), vi, kv_dim);
      const float* cs = cos_sin + i * c.rope_dim;
      ApplyRope(qi, c.n_heads, c.head_dim, c.rope_dim, cs, neox);
      ApplyRope(ki, c.n_kv_heads, c.head_dim, c.rope_dim, cs, neox);
      kv_->Store(row_segment_[i]->session, l, row_position_[i], ki, vi);
    }
  });
  Attention(l, segments, begin, n);
  const MatMulJob wo[] = {{Ref(L.wo), x, dim, true}};
  matmul_.Run(wo, reinterpret_cast<const float*>(att_.data()), n, dim);

  norm_rows(L.ffn_norm);
  const MatMulJob gate_up[] = {{Ref(L.w_gate), gate, ffn}, {Ref(L.w_up), up, ffn}};
  matmul_.Run(gate_up, h, n, dim);
  pool_.ParallelFor(n, RowGrain(n, threads), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      simd::SwiGlu(gate + i * ffn, up + i * ffn, gate + i * ffn, ffn);
    }
  });
  const MatMulJob down[] = {{Ref(L.w_down), x, dim, true}};
  matmul_.Run(down, gate, n, ffn);
}

void CpuBackend::Attention(int64_t l, const std::vector<Segment>& segments,
                           int64_t begin, int64_t n) {
  const model::ModelConfig& c = shard_->config;
  const int64_t group = c.n_heads / c.n_kv_heads;
  const float* q = reinterpret_cast<const float*>(q_.data());
  float* att = reinterpret_cast<float*>(att_.data());
  // Scores scratch for the longest row of the pass.
  int64_t longest = 0;
  for (int64_t i = 0; i < n; ++i) longest = std::max(longest, row_position_[i] + 1);
  for (AlignedBuffer& b : scores_) b.Reserve<float>(group * longest);
  const int64_t tasks = n * c.n_kv_heads;
  pool_.ParallelFor(tasks, 1, [&](int64_t b, int64_t e, int thread) {
    float* scores = reinterpret_cast<float*>(scores_[thread].data());
    for (int64_t task = b; task < e; ++task) {
      const int64_t i = task / c.n_kv_heads, head = task % c.n_kv_heads;
      const KvLayerView kv = kv_->View(row_segment_[i]->session, l);
      const int64_t offset = head * group * c.head_dim;
      AttendGroup(q + i * c.dim + offset, group, c.head_dim, kv,
                  head * c.head_dim, row_position_[i] + 1, scores,
                  att + i * c.dim + offset);
    }
  });
}

void CpuBackend::Head(const Batch& batch, const float* x, int64_t begin,
                      int64_t n, float* logits) {
  const model::ModelConfig& c = shard_->config;
  float* h = reinterpret_cast<float*>(norm_.data());
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
