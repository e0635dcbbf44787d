// The key/value cache of the reference pass: fp32, one slab per layer.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model_config.h"

namespace lockstep::reference {

class KvCache {
 public:
  // Holds `n_ctx` positions for every layer of `config`.
  KvCache(const model::ModelConfig& config, std::int64_t n_ctx);

  std::int64_t capacity() const { return n_ctx_; }  // positions
  std::int64_t kv_dim() const { return kv_dim_; }

  // [kv_dim] fp32 of layer `layer` at position `pos`: keys after RoPE, values as projected.
  float* key(std::int64_t layer, std::int64_t pos) { return &keys_[offset(layer, pos)]; }
  float* value(std::int64_t layer, std::int64_t pos) { return &values_[offset(layer, pos)]; }

 private:
  std::size_t offset(std::int64_t layer, std::int64_t pos) const {
    return static_cast<std::size_t>((layer * n_ctx_ + pos) * kv_dim_);
  }
  std::int64_t n_ctx_;
  std::int64_t kv_dim_;
  std::vector<float> keys_;    // [n_layer][n_ctx][kv_dim] fp32
  std::vector<float> values_;  // [n_layer][n_ctx][kv_dim] fp32
};

}  // namespace lockstep::reference
