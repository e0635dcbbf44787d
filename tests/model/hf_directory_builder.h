// Test helper: writes a tiny Hugging Face model directory (config.json, one or more safetensors
// shards with an index, tokenizer.json, tokenizer_config.json) with random weights, in the
// layout transformers saves: PyTorch [out, in] matrices, q/k in rotate-half order.
#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "model/catalog.h"
#include "model/safetensors_builder.h"
#include "model/synthetic_model.h"

namespace lockstep::testing {

struct HfSpec {
  std::string model_type = "llama";  // llama | mistral | qwen2 | qwen3 | anything else
  int hidden = 64, layers = 2, heads = 4, kv_heads = 2, head_dim = 16, ff = 128;
  int vocab = 320;             // config vocab_size (embedding rows)
  int tokenizer_tokens = 300;  // tokens in tokenizer.json (<= vocab)
  bool tied = false;
  bool llama3_scaling = false;
  std::string dtype = "F32";   // F32 | F16 | BF16
  int shards = 1;
  unsigned seed = 1;
  std::set<std::string> skip;  // Hugging Face tensor names to leave out
};

// Hugging Face's regexes (as in the published tokenizer.json files).
inline const char* kHfQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline const char* kHfLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

inline std::vector<SafetensorsTensor> hf_tensors(const HfSpec& s) {
  std::mt19937 rng(s.seed);
  auto random = [&](const std::string& name, std::vector<std::uint64_t> shape, double mean,
                    double stddev) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    std::normal_distribution<float> dist(static_cast<float>(mean), static_cast<float>(stddev));
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return make_tensor(name, s.dtype, std::move(shape), v);
  };
  const std::uint64_t h = s.hidden, q = s.heads * s.head_dim, kv = s.kv_heads * s.head_dim,
                      ff = s.ff, vocab = s.vocab;
  const double r = s.tied ? 4.0 : 1.0;
  std::vector<SafetensorsTensor> out;
  out.push_back(random("model.embed_tokens.weight", {vocab, h}, 0, s.tied ? 0.5 : 1.0));
  for (int i = 0; i < s.layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    out.push_back(random(p + "input_layernorm.weight", {h}, 1, 0.1));
    out.push_back(random(p + "self_attn.q_proj.weight", {q, h}, 0, 1 / std::sqrt(double(h))));
    out.push_back(random(p + "self_attn.k_proj.weight", {kv, h}, 0, 1 / std::sqrt(double(h))));
    out.push_back(random(p + "self_attn.v_proj.weight", {kv, h}, 0, 1 / std::sqrt(double(h))));
    if (s.model_type == "qwen2") {
      out.push_back(random(p + "self_attn.q_proj.bias", {q}, 0, 0.5));
      out.push_back(random(p + "self_attn.k_proj.bias", {kv}, 0, 0.5));
      out.push_back(random(p + "self_attn.v_proj.bias", {kv}, 0, 0.1));
    }
    if (s.model_type == "qwen3") {
      out.push_back(random(p + "self_attn.q_norm.weight", {std::uint64_t(s.head_dim)}, 1.2, 0.3));
      out.push_back(random(p + "self_attn.k_norm.weight", {std::uint64_t(s.head_dim)}, 1.2, 0.3));
    }
    out.push_back(random(p + "self_attn.o_proj.weight", {h, q}, 0, r / std::sqrt(double(q))));
    out.push_back(random(p + "post_attention_layernorm.weight", {h}, 1, 0.1));
    out.push_back(random(p + "mlp.gate_proj.weight", {ff, h}, 0, 1 / std::sqrt(double(h))));
    out.push_back(random(p + "mlp.up_proj.weight", {ff, h}, 0, 1 / std::sqrt(double(h))));
    out.push_back(random(p + "mlp.down_proj.weight", {h, ff}, 0, r / std::sqrt(double(ff))));
  }
  out.push_back(random("model.norm.weight", {h}, 1, 0.1));
  if (!s.tied) out.push_back(random("lm_head.weight", {vocab, h}, 0, 0.5));
  std::vector<SafetensorsTensor> kept;
  for (auto& t : out)
    if (!s.skip.count(t.name)) kept.push_back(std::move(t));
  return kept;
}

// tokenizer.json for a byte-level BPE vocabulary made by the synthetic-model generator:
// Qwen2-style (regex split, ChatML specials) for qwen, Llama-3-style otherwise.
inline std::string hf_tokenizer_json(const HfSpec& s) {
  const bool qwen = s.model_type == "qwen2" || s.model_type == "qwen3";
  model::ModelConfig c = model::load_catalog_shape(qwen ? "tiny-qwen2" : "tiny-llama3");
  c.n_vocab = s.tokenizer_tokens;
  const auto v = model::synthetic_vocabulary(c, "bpe");
  nlohmann::json vocab = nlohmann::json::object(), added = nlohmann::json::array(),
                 merges = nlohmann::json::array();
  for (std::size_t i = 0; i < v.tokens.size(); ++i) {
    vocab[v.tokens[i]] = i;
    if (v.types[i] == tokenizer::TokenType::Control)
      added.push_back({{"id", i}, {"content", v.tokens[i]}, {"special", true},
                       {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", false}});
  }
  for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);
  nlohmann::json j = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", qwen ? kHfQwen2Regex : kHfLlama3Regex}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"},
           {"add_prefix_space", false},
           {"trim_offsets", false},
           {"use_regex", false}}}}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", !qwen},
        {"vocab", vocab},
        {"merges", merges}}},
  };
  return j.dump();
}

inline void write_hf_directory(const std::string& dir, const HfSpec& s) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  nlohmann::json config = {
      {"architectures", {"TestForCausalLM"}},
      {"model_type", s.model_type},
      {"hidden_size", s.hidden},
      {"intermediate_size", s.ff},
      {"num_hidden_layers", s.layers},
      {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.kv_heads},
      {"vocab_size", s.vocab},
      {"max_position_embeddings", 128},
      {"rms_norm_eps", 1e-6},
      {"rope_theta", 10000.0},
      {"tie_word_embeddings", s.tied},
      {"torch_dtype", "float32"},
  };
  if (s.head_dim * s.heads != s.hidden) config["head_dim"] = s.head_dim;
  if (s.llama3_scaling)
    config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                              {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 32}};
  write_text(dir + "/config.json", config.dump(2));

  const auto tensors = hf_tensors(s);
  if (s.shards <= 1) {
    write_file(dir + "/model.safetensors", build_safetensors(tensors));
  } else {
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
    for (int k = 0; k < s.shards; ++k) {
      const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", k + 1, s.shards);
      std::vector<SafetensorsTensor> part;
      for (std::size_t i = k; i < tensors.size(); i += s.shards) {
        part.push_back(tensors[i]);
        index["weight_map"][tensors[i].name] = file;
      }
      write_file(dir + "/" + file, build_safetensors(part));
    }
    write_text(dir + "/model.safetensors.index.json", index.dump(2));
  }
  write_text(dir + "/tokenizer.json", hf_tokenizer_json(s));
  const bool qwen = s.model_type == "qwen2" || s.model_type == "qwen3";
  nlohmann::json tc = {{"eos_token", qwen ? "<|im_end|>" : "<|end_of_text|>"},
                       {"add_bos_token", !qwen}};
  if (!qwen) tc["bos_token"] = "<|begin_of_text|>";
  write_text(dir + "/tokenizer_config.json", tc.dump(2));
}

}  // namespace lockstep::testing
