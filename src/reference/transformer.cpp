#include "reference/transformer.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "core/error.h"
#include "reference/matmul.h"
#include "reference/ops.h"

namespace lockstep::reference {
namespace {

std::vector<float> vector_or_empty(const model::TensorView* t) {
  return t ? dequantize_tensor(*t) : std::vector<float>{};
}

void add_bias(std::span<float> y, const std::vector<float>& bias, std::int64_t n) {
  if (bias.empty()) return;
  const auto width = bias.size();
  for (std::int64_t t = 0; t < n; ++t)
    for (std::size_t i = 0; i < width; ++i) y[t * width + i] += bias[i];
}

// x[t] = rms_norm(x[t]) * weight for each of n rows of width weight.size().
void rms_norm_rows(std::span<float> x, const std::vector<float>& weight, std::int64_t n,
                   double eps) {
  const auto width = weight.size();
  for (std::int64_t t = 0; t < n; ++t) rms_norm(x.subspan(t * width, width), weight, eps);
}

}  // namespace

Transformer::Transformer(std::shared_ptr<const model::Model> model) : model_(std::move(model)) {
  for (const auto& l : model_->layers) {
    layer_vectors_.push_back({dequantize_tensor(*l.attn_norm), dequantize_tensor(*l.ffn_norm),
                              vector_or_empty(l.bq), vector_or_empty(l.bk), vector_or_empty(l.bv),
                              vector_or_empty(l.q_norm), vector_or_empty(l.k_norm)});
  }
  output_norm_ = dequantize_tensor(*model_->output_norm);
}

void Transformer::attention_block(std::int64_t layer, std::span<float> x, std::int64_t n,
                                  std::int64_t pos, KvCache& cache) const {
  const auto& c = config();
  const auto& w = model_->layers[layer];
  const auto& v = layer_vectors_[layer];
  const std::int64_t d = c.head_dim, q_dim = c.q_dim(), kv_dim = c.kv_dim();

  std::vector<float> xn(x.begin(), x.end());  // [n][n_embd]
  rms_norm_rows(xn, v.attn_norm, n, c.rms_eps);
  const std::string a = fmt::format("x.{}.", layer);
  probe(a + "attn_in", xn);

  std::vector<float> q(n * q_dim), k(n * kv_dim), val(n * kv_dim);  // [n][q_dim], [n][kv_dim]
  matmul(*w.wq, xn, q, n);
  matmul(*w.wk, xn, k, n);
  matmul(*w.wv, xn, val, n);
  probe(a + "q", q);
  probe(a + "k", k);
  probe(a + "v", val);
  if (c.qkv_bias) {
    add_bias(q, v.bq, n);
    add_bias(k, v.bk, n);
    add_bias(val, v.bv, n);
    probe(a + "q_biased", q);
    probe(a + "k_biased", k);
    probe(a + "v_biased", val);
  }
  if (c.qk_norm) {  // Qwen3: each head of q and k is RMS-normalised before RoPE
    rms_norm_rows(q, v.q_norm, n * c.n_head, c.rms_eps);
    rms_norm_rows(k, v.k_norm, n * c.n_head_kv, c.rms_eps);
    probe(a + "q_normed", q);
    probe(a + "k_normed", k);
  }
  for (std::int64_t t = 0; t < n; ++t) {
    apply_rope(std::span(q).subspan(t * q_dim, q_dim), c.n_head, pos + t, c);
    apply_rope(std::span(k).subspan(t * kv_dim, kv_dim), c.n_head_kv, pos + t, c);
    std::copy_n(&k[t * kv_dim], kv_dim, cache.key(layer, pos + t));
    std::copy_n(&val[t * kv_dim], kv_dim, cache.value(layer, pos + t));
  }
  probe(a + "q_rope", q);
  probe(a + "k_rope", k);

  // Causal attention over the cache: token t sees positions 0 .. pos + t.
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const std::int64_t group = c.n_head / c.n_head_kv;  // query heads per kv head
  std::vector<float> attended(n * q_dim, 0.0f);       // [n][q_dim]
  std::vector<float> scores;                           // [pos + t + 1] fp32
  for (std::int64_t t = 0; t < n; ++t) {
    const std::int64_t seen = pos + t + 1;
    for (std::int64_t h = 0; h < c.n_head; ++h) {
      const float* qh = &q[t * q_dim + h * d];
      const std::int64_t kv_off = (h / group) * d;
      scores.assign(seen, 0.0f);
      for (std::int64_t j = 0; j < seen; ++j) {
        const float* kj = cache.key(layer, j) + kv_off;
        float dot = 0.0f;
        for (std::int64_t i = 0; i < d; ++i) dot += qh[i] * kj[i];
        scores[j] = dot * scale;
      }
      softmax(scores);
      float* out = &attended[t * q_dim + h * d];
      for (std::int64_t j = 0; j < seen; ++j) {
        const float* vj = cache.value(layer, j) + kv_off;
        for (std::int64_t i = 0; i < d; ++i) out[i] += scores[j] * vj[i];
      }
    }
  }

  probe(a + "attended", attended);
  std::vector<float> projected(n * c.n_embd);  // [n][n_embd]
  matmul(*w.wo, attended, projected, n);
  probe(a + "attn_out", projected);
  for (std::size_t i = 0; i < projected.size(); ++i) x[i] += projected[i];
  probe(a + "resid_attn", x);
}

void Transformer::ffn_block(std::int64_t layer, std::span<float> x, std::int64_t n) const {
  const auto& c = config();
  const auto& w = model_->layers[layer];
  std::vector<float> xn(x.begin(), x.end());  // [n][n_embd]
  rms_norm_rows(xn, layer_vectors_[layer].ffn_norm, n, c.rms_eps);
  const std::string a = fmt::format("x.{}.", layer);
  probe(a + "ffn_in", xn);
  std::vector<float> gate(n * c.n_ff), up(n * c.n_ff);  // [n][n_ff]
  matmul(*w.ffn_gate, xn, gate, n);
  matmul(*w.ffn_up, xn, up, n);
  probe(a + "gate", gate);
  probe(a + "up", up);
  swiglu(gate, up);
  probe(a + "swiglu", gate);
  std::vector<float> down(n * c.n_embd);  // [n][n_embd]
  matmul(*w.ffn_down, gate, down, n);
  probe(a + "ffn_out", down);
  for (std::size_t i = 0; i < down.size(); ++i) x[i] += down[i];
  probe(a + "resid_ffn", x);
}

void Transformer::forward(std::span<const std::int32_t> tokens, std::int64_t pos, KvCache& cache,
                          std::span<float> logits, bool all_logits) const {
  const auto& c = config();
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (n == 0) fail("forward needs at least one token");
  if (pos < 0 || pos + n > cache.capacity())
    fail("{} tokens at position {} do not fit the context of {} tokens", n, pos, cache.capacity());
  const std::size_t logit_rows = all_logits ? static_cast<std::size_t>(n) : 1;
  if (logits.size() != logit_rows * c.n_vocab)
    fail("logits buffer holds {} values, expected {}", logits.size(), logit_rows * c.n_vocab);

  std::vector<float> x(n * c.n_embd);  // [n][n_embd] residual stream
  for (std::int64_t t = 0; t < n; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.n_vocab)
      fail("token id {} is out of range (the vocabulary has {} tokens)", tokens[t], c.n_vocab);
    model::dequantize_tensor_row(*model_->token_embd, static_cast<std::uint64_t>(tokens[t]),
                          std::span(x).subspan(t * c.n_embd, c.n_embd));
  }

  probe("x.embedded", x);
  for (std::int64_t layer = 0; layer < c.n_layer; ++layer) {
    attention_block(layer, x, n, pos, cache);
    ffn_block(layer, x, n);
  }

  // Only the rows whose logits are wanted go through the final norm and the output matrix.
  const std::int64_t first = all_logits ? 0 : n - 1;
  std::span<float> rows = std::span(x).subspan(first * c.n_embd);
  rms_norm_rows(rows, output_norm_, n - first, c.rms_eps);
  probe("x.final", rows);
  matmul(*model_->output, rows, logits, n - first);
  probe("logits", logits);
}

}  // namespace lockstep::reference
