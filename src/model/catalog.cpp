#include "model/catalog.h"

#include <yaml-cpp/yaml.h>

#include "core/config_files.h"
#include "core/error.h"
#include "core/yaml_keys.h"

namespace lockstep::model {
namespace {

Architecture parse_architecture(const std::string& s) {
  if (s == "llama") return Architecture::Llama;
  if (s == "mistral") return Architecture::Mistral;
  if (s == "qwen2") return Architecture::Qwen2;
  return Architecture::Qwen3;  // one_of() admitted nothing else
}

constexpr const char* kKind = "models";

}  // namespace

std::string catalog_config_dir() { return config_dir(kKind); }

std::vector<std::string> catalog_shape_names() { return config_names(kKind); }

CatalogShape parse_catalog_file(const std::string& path, const std::string& name) {
  const YAML::Node root = load_yaml_file(path, "catalog file");

  try {
    const KeyReader r(root, path, "",
                      {"source", "architecture", "n_vocab", "n_embd", "n_layer", "n_head",
                       "n_head_kv", "head_dim", "n_ff", "n_ctx_train", "rms_eps", "rope_theta",
                       "tied_embeddings", "tokenizer", "rope_scaling"},
                      {"source", "architecture", "n_vocab", "n_embd", "n_layer", "n_head",
                       "n_head_kv", "head_dim", "n_ff", "n_ctx_train", "rms_eps", "rope_theta",
                       "tied_embeddings", "tokenizer"});
    CatalogShape shape;
    shape.name = name;
    shape.file = path;
    shape.source = r.text("source");
    shape.tokenizer = r.one_of("tokenizer", {"spm", "bpe"});
    ModelConfig& c = shape.config;
    c.architecture_name = r.one_of("architecture", {"llama", "mistral", "qwen2", "qwen3"});
    c.architecture = parse_architecture(c.architecture_name);
    c.name = name;
    c.n_vocab = r.positive_int("n_vocab");
    c.n_embd = r.positive_int("n_embd");
    c.n_layer = r.positive_int("n_layer");
    c.n_head = r.positive_int("n_head");
    c.n_head_kv = r.positive_int("n_head_kv");
    c.head_dim = r.positive_int("head_dim");
    c.n_ff = r.positive_int("n_ff");
    c.n_ctx_train = r.positive_int("n_ctx_train");
    c.rms_eps = r.positive_number("rms_eps");
    c.rope_theta = r.positive_number("rope_theta");
    c.tied_embeddings = r.boolean("tied_embeddings");
    if (c.n_head % c.n_head_kv != 0)
      fail("{}: n_head {} is not a multiple of n_head_kv {}", path, c.n_head, c.n_head_kv);
    if (c.head_dim % 2 != 0) fail("{}: head_dim {} is odd; RoPE needs pairs", path, c.head_dim);
    // As a GGUF file of this shape would load (see gguf_model_loader.cpp).
    const bool qwen = c.architecture == Architecture::Qwen2 || c.architecture == Architecture::Qwen3;
    c.rope_style = qwen ? RopeStyle::Halves : RopeStyle::AdjacentPairs;
    c.qkv_bias = c.architecture == Architecture::Qwen2;
    c.qk_norm = c.architecture == Architecture::Qwen3;

    if (r.has("rope_scaling")) {
      const YAML::Node node = r.node("rope_scaling");
      if (!node.IsMap()) fail("{}: key 'rope_scaling' must be a mapping", path);
      const YAML::Node type_node = node["type"];
      const std::string type = type_node && type_node.IsScalar() ? type_node.Scalar() : "";
      if (type == "llama3") {
        const KeyReader s(node, path, "rope_scaling.",
                          {"type", "factor", "low_freq_factor", "high_freq_factor",
                           "original_context_length"},
                          {"type", "factor", "low_freq_factor", "high_freq_factor",
                           "original_context_length"});
        const double low = s.positive_number("low_freq_factor");
        const double high = s.positive_number("high_freq_factor");
        if (!(high > low))
          fail("{}: key 'rope_scaling.high_freq_factor' must be larger than low_freq_factor",
               path);
        c.rope_freq_factors = llama3_rope_freq_factors(
            c.head_dim, c.rope_theta, s.positive_number("factor"), low, high,
            static_cast<double>(s.positive_int("original_context_length")));
      } else if (type == "linear") {
        const KeyReader s(node, path, "rope_scaling.", {"type", "factor"}, {"type", "factor"});
        c.rope_linear_scale = s.positive_number("factor");
      } else {
        fail("{}: key 'rope_scaling.type' is '{}' (must be llama3 or linear)", path, type);
      }
    }
    return shape;
  } catch (const YAML::Exception& e) {
    fail("{}: malformed catalog entry at line {} ({})", path, e.mark.line + 1, e.msg);
  }
}

CatalogShape load_catalog_entry(const std::string& name_or_path) {
  const ConfigFile file = find_config_file(kKind, name_or_path, "model shape");
  return parse_catalog_file(file.path, file.name);
}

ModelConfig load_catalog_shape(const std::string& name_or_path) {
  return load_catalog_entry(name_or_path).config;
}

}  // namespace lockstep::model
