// GGUF -> Model: hyper-parameters from '<arch>.*' metadata, tensors by their GGUF names.
#include <fmt/format.h>

#include "core/error.h"
#include "model/model_loader.h"
#include "tokenizer/gguf_vocabulary.h"

namespace lockstep::model {
namespace {

Architecture parse_gguf_architecture(const std::string& name, const std::string& path) {
  if (name == "llama") return Architecture::Llama;
  if (name == "mistral") return Architecture::Mistral;
  if (name == "qwen2") return Architecture::Qwen2;
  if (name == "qwen3") return Architecture::Qwen3;
  fail("{}: unsupported architecture '{}' (lockstep runs llama, mistral, qwen2 and qwen3)", path,
       name);
}

std::int64_t positive(const GgufFile& g, const std::string& key, std::uint64_t limit) {
  std::uint64_t v = g.get_uint(key);
  if (v == 0 || v > limit)
    fail("{}: metadata '{}' is {} (must be between 1 and {})", g.path(), key, v, limit);
  return static_cast<std::int64_t>(v);
}

// Copies a small f32 vector tensor (rope_freqs) out of the mapping.
std::vector<float> read_f32_vector(const TensorView& t, const std::string& path) {
  if (t.type != numerics::TensorType::F32 || t.shape.size() != 1)
    fail("{}: tensor '{}' must be a 1-D f32 vector", path, t.name);
  std::vector<float> v(t.shape[0]);
  std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace

std::shared_ptr<const Model> model_from_gguf(const GgufFile& g) {
  auto m = std::make_shared<Model>();
  m->source = g.path();
  m->format = "gguf";
  m->mappings.push_back(g.mapping());
  auto& c = m->config;

  c.architecture_name = g.get_string("general.architecture");
  c.architecture = parse_gguf_architecture(c.architecture_name, g.path());
  c.name = g.get_string("general.name", "");
  const std::string a = c.architecture_name + ".";

  constexpr std::uint64_t kMaxWidth = 1u << 20, kMaxLayers = 1024, kMaxHeads = 4096;
  c.n_embd = positive(g, a + "embedding_length", kMaxWidth);
  c.n_layer = positive(g, a + "block_count", kMaxLayers);
  c.n_ff = positive(g, a + "feed_forward_length", kMaxWidth);
  c.n_head = positive(g, a + "attention.head_count", kMaxHeads);
  c.n_head_kv = g.has(a + "attention.head_count_kv")
                    ? positive(g, a + "attention.head_count_kv", kMaxHeads)
                    : c.n_head;
  c.n_ctx_train = g.has(a + "context_length") ? positive(g, a + "context_length", 1u << 24) : 4096;
  c.head_dim = g.has(a + "attention.key_length") ? positive(g, a + "attention.key_length", 4096)
                                                  : c.n_embd / c.n_head;
  if (g.has(a + "attention.value_length") &&
      static_cast<std::int64_t>(g.get_uint(a + "attention.value_length")) != c.head_dim)
    fail("{}: attention.key_length and value_length differ, which lockstep does not support",
         g.path());
  if (c.n_head % c.n_head_kv != 0)
    fail("{}: attention.head_count {} is not a multiple of head_count_kv {}", g.path(), c.n_head,
         c.n_head_kv);
  if (c.head_dim % 2 != 0) fail("{}: head dimension {} is odd; RoPE needs pairs", g.path(), c.head_dim);
  if (g.has(a + "rope.dimension_count") &&
      static_cast<std::int64_t>(g.get_uint(a + "rope.dimension_count")) != c.head_dim)
    fail("{}: partial RoPE (rope.dimension_count != head dimension) is not supported", g.path());
  c.rms_eps = g.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5);
  c.rope_theta = g.get_float(a + "rope.freq_base", 10000.0);
  if (!(c.rms_eps > 0) || !(c.rope_theta > 0))
    fail("{}: rms epsilon and rope.freq_base must be positive", g.path());

  const std::string scaling = g.get_string(a + "rope.scaling.type", "none");
  if (scaling == "linear") {
    const double factor = g.get_float(a + "rope.scaling.factor", 1.0);
    if (!(factor > 0)) fail("{}: rope.scaling.factor must be positive", g.path());
    c.rope_linear_scale = factor;
  } else if (scaling != "none" && scaling != "llama3") {
    fail("{}: RoPE scaling '{}' is not supported (lockstep supports none, linear and llama3)",
         g.path(), scaling);
  }

  // llama / mistral GGUF files store q and k permuted for adjacent-pair RoPE (llama.cpp's
  // converter does this); qwen2 / qwen3 keep Hugging Face's rotate_half layout.
  c.rope_style = (c.architecture == Architecture::Qwen2 || c.architecture == Architecture::Qwen3)
                     ? RopeStyle::Halves
                     : RopeStyle::AdjacentPairs;
  c.qkv_bias = c.architecture == Architecture::Qwen2;
  c.qk_norm = c.architecture == Architecture::Qwen3;

  for (const auto& t : g.tensors()) m->tensors.emplace(t.name, t);
  c.tied_embeddings = m->tensors.count("output.weight") == 0;
  if (const auto* tok = g.find_tensor("token_embd.weight"); tok && tok->shape.size() == 2)
    c.n_vocab = static_cast<std::int64_t>(tok->shape[1]);
  if (const auto* freqs = g.find_tensor("rope_freqs.weight")) {
    c.rope_freq_factors = read_f32_vector(*freqs, g.path());
    if (static_cast<std::int64_t>(c.rope_freq_factors.size()) != c.head_dim / 2)
      fail("{}: rope_freqs.weight has {} values, expected head_dim / 2 = {}", g.path(),
           c.rope_freq_factors.size(), c.head_dim / 2);
  }
  if (c.qkv_bias && m->tensors.count("blk.0.attn_q.bias") == 0) c.qkv_bias = false;

  m->bind_weights();

  auto vocabulary = tokenizer::vocabulary_from_gguf(g);
  if (static_cast<std::int64_t>(vocabulary.tokens.size()) != c.n_vocab)
    fail("{}: the tokenizer has {} tokens but token_embd.weight has {} rows", g.path(),
         vocabulary.tokens.size(), c.n_vocab);
  m->tokenizer = std::make_shared<tokenizer::Tokenizer>(std::move(vocabulary));

  for (const char* key : {"general.file_type", "general.quantization_version", "general.license",
                          "general.basename", "general.size_label"}) {
    if (const auto* v = g.find(key)) {
      if (auto* s = std::get_if<std::string>(&v->scalar)) m->extra_metadata.emplace_back(key, *s);
      else if (auto* u = std::get_if<std::uint64_t>(&v->scalar))
        m->extra_metadata.emplace_back(key, std::to_string(*u));
    }
  }
  return m;
}

}  // namespace lockstep::model
