// The reference forward pass: the oracle every other backend is checked against.
// Plain FP32 arithmetic on weights dequantized row by row, one readable function per step.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <span>
#include <vector>

#include "model/model.h"
#include "reference/kv_cache.h"

namespace lockstep::reference {

class Transformer {
 public:
  explicit Transformer(std::shared_ptr<const model::Model> model);

  const model::ModelConfig& config() const { return model_->config; }
  const model::Model& model() const { return *model_; }

  // Runs `tokens` at positions [pos, pos + n) (n = tokens.size() >= 1), appending their keys
  // and values to `cache`, and writes logits:
  //   all_logits: logits is [n][n_vocab] fp32, row i predicts the token after tokens[i];
  //   otherwise:  logits is [n_vocab] fp32 for the last token only.
  // Throws lockstep::Error when a token id is out of range or pos + n exceeds the cache.
  void forward(std::span<const std::int32_t> tokens, std::int64_t pos, KvCache& cache,
               std::span<float> logits, bool all_logits) const;

  // Called by forward() with every op's output as the step graph names it (graph/step_graph.h:
  // "x.embedded", "x.3.q", "x.3.attended", "logits", ...): [rows][width] fp32, the rows of the
  // call (the head's: the rows whose logits are wanted). For checking other targets op by op.
  using TensorProbe = std::function<void(const std::string& tensor, std::span<const float> rows)>;
  void set_probe(TensorProbe probe) { probe_ = std::move(probe); }

 private:
  // Small per-layer vectors, dequantized once: [n_embd] norms, [q_dim]/[kv_dim] biases,
  // [head_dim] q/k norms.
  struct LayerVectors {
    std::vector<float> attn_norm, ffn_norm, bq, bk, bv, q_norm, k_norm;
  };

  void attention_block(std::int64_t layer, std::span<float> x, std::int64_t n, std::int64_t pos,
                       KvCache& cache) const;
  void ffn_block(std::int64_t layer, std::span<float> x, std::int64_t n) const;

  std::shared_ptr<const model::Model> model_;
  std::vector<LayerVectors> layer_vectors_;  // [n_layer]
  std::vector<float> output_norm_;           // [n_embd]
  TensorProbe probe_;
  void probe(const std::string& tensor, std::span<const float> rows) const {
    if (probe_) probe_(tensor, rows);
  }
};

}  // namespace lockstep::reference
