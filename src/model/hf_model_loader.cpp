// Hugging Face model directory -> Model: config.json for the hyper-parameters, one or more
// *.safetensors files (with model.safetensors.index.json when sharded) for the weights,
// tokenizer.json (+ tokenizer_config.json) for the tokenizer. Tensor names are mapped to
// GGUF's; q/k stay in Hugging Face's layout, so RoPE rotates halves (RopeStyle::Halves).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "core/error.h"
#include "model/model_loader.h"
#include "format/safetensors_file.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace lockstep::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) fail("cannot open '{}'", path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON ({})", path.string(), e.what());
  }
}

std::int64_t config_int(const json& j, const std::string& key, const fs::path& path,
                        std::optional<std::int64_t> fallback = std::nullopt) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback) return *fallback;
    fail("{}: required field '{}' is missing", path.string(), key);
  }
  if (!j[key].is_number_integer() || j[key].get<std::int64_t>() <= 0 ||
      j[key].get<std::int64_t>() > (1 << 24))
    fail("{}: field '{}' must be a positive integer", path.string(), key);
  return j[key].get<std::int64_t>();
}

double config_float(const json& j, const std::string& key, const fs::path& path, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number()) fail("{}: field '{}' must be a number", path.string(), key);
  return j[key].get<double>();
}

// Hugging Face name -> GGUF name; empty for tensors lockstep does not use.
std::string gguf_tensor_name(const std::string& hf) {
  static const std::vector<std::pair<std::string, std::string>> kTop{
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  for (const auto& [from, to] : kTop)
    if (hf == from) return to;
  static const std::regex kLayer(R"(model\.layers\.(\d+)\.(.+))");
  static const std::vector<std::pair<std::string, std::string>> kPerLayer{
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  std::smatch m;
  if (std::regex_match(hf, m, kLayer)) {
    for (const auto& [from, to] : kPerLayer)
      if (m[2] == from) return "blk." + m[1].str() + "." + to;
  }
  return {};
}

// The safetensors files of the directory: the index's shards, or model.safetensors, or the only
// *.safetensors file present.
std::vector<fs::path> weight_files(const fs::path& dir) {
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    json j = read_json(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      fail("{}: 'weight_map' is missing or not an object", index.string());
    std::set<std::string> shards;
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) fail("{}: weight_map['{}'] is not a file name", index.string(), name);
      const auto shard = file.get<std::string>();
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
        fail("{}: weight_map['{}'] names '{}', which is not a file in the directory",
             index.string(), name, shard);
      shards.insert(shard);
    }
    std::vector<fs::path> files;
    for (const auto& s : shards) files.push_back(dir / s);
    return files;
  }
  if (fs::exists(dir / "model.safetensors")) return {dir / "model.safetensors"};
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") found.push_back(e.path());
  if (found.size() == 1) return found;
  if (found.empty()) fail("{}: no *.safetensors weights in this directory", dir.string());
  fail("{}: several *.safetensors files but no model.safetensors.index.json to say which is which",
       dir.string());
}

}  // namespace

std::shared_ptr<const Model> model_from_hf_directory(const std::string& dir_string) {
  const fs::path dir(dir_string);
  const fs::path config_path = dir / "config.json";
  if (!fs::exists(config_path))
    fail("{}: not a Hugging Face model directory (no config.json)", dir_string);
  const json cfg = read_json(config_path);
  if (!cfg.is_object()) fail("{}: not a JSON object", config_path.string());

  auto m = std::make_shared<Model>();
  m->source = dir_string;
  m->format = "safetensors";
  auto& c = m->config;

  std::string model_type = cfg.value("model_type", "");
  if (model_type == "llama") c.architecture = Architecture::Llama;
  else if (model_type == "mistral") c.architecture = Architecture::Mistral;
  else if (model_type == "qwen2") c.architecture = Architecture::Qwen2;
  else if (model_type == "qwen3") c.architecture = Architecture::Qwen3;
  else
    fail("{}: unsupported architecture '{}' (lockstep runs llama, mistral, qwen2 and qwen3)",
         config_path.string(), model_type.empty() ? "(no model_type)" : model_type);
  c.architecture_name = model_type;
  c.name = cfg.contains("_name_or_path") && cfg["_name_or_path"].is_string()
               ? cfg["_name_or_path"].get<std::string>()
               : dir.filename().string();

  c.n_embd = config_int(cfg, "hidden_size", config_path);
  c.n_layer = config_int(cfg, "num_hidden_layers", config_path);
  c.n_ff = config_int(cfg, "intermediate_size", config_path);
  c.n_head = config_int(cfg, "num_attention_heads", config_path);
  c.n_head_kv = config_int(cfg, "num_key_value_heads", config_path, c.n_head);
  c.head_dim = config_int(cfg, "head_dim", config_path, c.n_embd / c.n_head);
  c.n_vocab = config_int(cfg, "vocab_size", config_path);
  c.n_ctx_train = config_int(cfg, "max_position_embeddings", config_path, 4096);
  c.rms_eps = config_float(cfg, "rms_norm_eps", config_path, 1e-6);
  c.rope_theta = config_float(cfg, "rope_theta", config_path, 10000.0);
  if (c.n_head % c.n_head_kv != 0 || c.head_dim % 2 != 0)
    fail("{}: num_attention_heads must be a multiple of num_key_value_heads and head_dim even",
         config_path.string());
  c.rope_style = RopeStyle::Halves;
  c.qkv_bias = c.architecture == Architecture::Qwen2;
  c.qk_norm = c.architecture == Architecture::Qwen3;
  if (cfg.value("attention_bias", false) && c.architecture != Architecture::Qwen2)
    fail("{}: attention_bias = true is not supported for {}", config_path.string(), model_type);

  if (cfg.contains("rope_scaling") && !cfg["rope_scaling"].is_null()) {
    const json& rs = cfg["rope_scaling"];
    std::string type = rs.value("rope_type", rs.value("type", ""));
    if (type == "llama3") {
      c.rope_freq_factors = llama3_rope_freq_factors(
          c.head_dim, c.rope_theta, config_float(rs, "factor", config_path, 8.0),
          config_float(rs, "low_freq_factor", config_path, 1.0),
          config_float(rs, "high_freq_factor", config_path, 4.0),
          config_float(rs, "original_max_position_embeddings", config_path, 8192));
    } else if (type == "linear") {
      c.rope_linear_scale = config_float(rs, "factor", config_path, 1.0);
    } else if (type != "default") {
      fail("{}: rope_scaling type '{}' is not supported (lockstep supports llama3 and linear)",
           config_path.string(), type);
    }
  }

  for (const auto& file : weight_files(dir)) {
    auto st = SafetensorsFile::open(file.string());
    m->mappings.push_back(st.mapping());
    for (const auto& [hf_name, view] : st.tensors()) {
      std::string name = gguf_tensor_name(hf_name);
      if (name.empty()) name = hf_name;  // kept under its own name, unused by the forward pass
      TensorView t = view;
      t.name = name;
      if (!m->tensors.emplace(name, std::move(t)).second)
        fail("{}: tensor '{}' appears in more than one shard", dir_string, hf_name);
    }
  }
  c.tied_embeddings = m->tensors.count("output.weight") == 0;
  m->bind_weights();

  const fs::path tokenizer_json = dir / "tokenizer.json";
  if (!fs::exists(tokenizer_json))
    fail("{}: no tokenizer.json (lockstep reads the fast-tokenizer file)", dir_string);
  const fs::path tokenizer_config = dir / "tokenizer_config.json";
  auto vocabulary = tokenizer::vocabulary_from_tokenizer_json(
      tokenizer_json.string(), fs::exists(tokenizer_config) ? tokenizer_config.string() : "");
  if (static_cast<std::int64_t>(vocabulary.tokens.size()) > c.n_vocab)
    fail("{}: the tokenizer has {} tokens but the embedding has only {} rows", dir_string,
         vocabulary.tokens.size(), c.n_vocab);
  m->tokenizer = std::make_shared<tokenizer::Tokenizer>(std::move(vocabulary));
  return m;
}

}  // namespace lockstep::model
