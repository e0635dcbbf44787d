#include "model/model.h"

#include <fmt/ranges.h>

#include "core/error.h"

namespace lockstep::model {
namespace {

std::string shape_string(const std::vector<std::uint64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

void Model::bind_weights() {
  const auto& c = config;
  auto require = [&](const std::string& name,
                     std::vector<std::uint64_t> shape) -> const TensorView* {
    auto it = tensors.find(name);
    if (it == tensors.end())
      fail("{}: tensor '{}' is missing (needed by architecture {})", source, name,
           c.architecture_name);
    if (it->second.shape != shape)
      fail("{}: tensor '{}' has shape {}, expected {} from the model's hyper-parameters", source,
           name, shape_string(it->second.shape), shape_string(shape));
    return &it->second;
  };
  auto require_f32 = [&](const std::string& name, std::uint64_t n) {
    const TensorView* t = require(name, {n});
    if (t->type != numerics::TensorType::F32 && t->type != numerics::TensorType::F16 &&
        t->type != numerics::TensorType::BF16)
      fail("{}: tensor '{}' is a vector stored as {}; expected f32, f16 or bf16", source, name,
           numerics::tensor_type_info(t->type).name);
    return t;
  };

  const auto n_embd = static_cast<std::uint64_t>(c.n_embd);
  const auto n_vocab = static_cast<std::uint64_t>(c.n_vocab);
  const auto q_dim = static_cast<std::uint64_t>(c.q_dim());
  const auto kv_dim = static_cast<std::uint64_t>(c.kv_dim());
  const auto n_ff = static_cast<std::uint64_t>(c.n_ff);
  const auto head_dim = static_cast<std::uint64_t>(c.head_dim);

  token_embd = require("token_embd.weight", {n_embd, n_vocab});
  output_norm = require_f32("output_norm.weight", n_embd);
  output = c.tied_embeddings ? token_embd : require("output.weight", {n_embd, n_vocab});

  layers.assign(static_cast<std::size_t>(c.n_layer), {});
  for (std::int64_t i = 0; i < c.n_layer; ++i) {
    auto& l = layers[static_cast<std::size_t>(i)];
    const std::string p = fmt::format("blk.{}.", i);
    l.attn_norm = require_f32(p + "attn_norm.weight", n_embd);
    l.wq = require(p + "attn_q.weight", {n_embd, q_dim});
    l.wk = require(p + "attn_k.weight", {n_embd, kv_dim});
    l.wv = require(p + "attn_v.weight", {n_embd, kv_dim});
    l.wo = require(p + "attn_output.weight", {q_dim, n_embd});
    if (c.qkv_bias) {
      l.bq = require_f32(p + "attn_q.bias", q_dim);
      l.bk = require_f32(p + "attn_k.bias", kv_dim);
      l.bv = require_f32(p + "attn_v.bias", kv_dim);
    }
    if (c.qk_norm) {
      l.q_norm = require_f32(p + "attn_q_norm.weight", head_dim);
      l.k_norm = require_f32(p + "attn_k_norm.weight", head_dim);
    }
    l.ffn_norm = require_f32(p + "ffn_norm.weight", n_embd);
    l.ffn_gate = require(p + "ffn_gate.weight", {n_embd, n_ff});
    l.ffn_up = require(p + "ffn_up.weight", {n_embd, n_ff});
    l.ffn_down = require(p + "ffn_down.weight", {n_ff, n_embd});
  }
}

std::uint64_t Model::weight_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [name, t] : tensors) total += t.data.size();
  return total;
}

}  // namespace lockstep::model
