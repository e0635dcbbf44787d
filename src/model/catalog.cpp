#include "model/catalog.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>
#include <set>

#include "core/error.h"

namespace lockstep::model {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kMaxDimension = 1 << 24;  // sanity bound on every width, count, length

// Reads typed scalars from one YAML mapping, naming the file and the key in every error.
class KeyReader {
 public:
  KeyReader(const YAML::Node& map, std::string file, std::string prefix,
            std::set<std::string> allowed, std::set<std::string> required)
      : map_(map), file_(std::move(file)), prefix_(std::move(prefix)) {
    if (!map_.IsMap())
      fail("{}: {} must be a mapping of keys to values", file_,
           prefix_.empty() ? std::string("the file") : "'" + prefix_.substr(0, prefix_.size() - 1) + "'");
    std::set<std::string> seen;
    for (const auto& kv : map_) {
      if (!kv.first.IsScalar()) fail("{}: a key is not a plain name", file_);
      const std::string key = kv.first.Scalar();
      if (!allowed.count(key))
        fail("{}: unknown key '{}{}' (allowed: {})", file_, prefix_, key, fmt::join(allowed, ", "));
      if (!seen.insert(key).second) fail("{}: key '{}{}' appears twice", file_, prefix_, key);
    }
    for (const auto& key : required)
      if (!seen.count(key)) fail("{}: required key '{}{}' is missing", file_, prefix_, key);
  }

  bool has(const std::string& key) const { return static_cast<bool>(map_[key]); }

  std::string text(const std::string& key) const {
    const YAML::Node n = scalar(key, "a string");
    return n.Scalar();
  }

  std::int64_t positive_int(const std::string& key) const {
    const YAML::Node n = scalar(key, "a positive integer");
    const std::string& s = n.Scalar();
    const bool digits = !s.empty() && s.size() <= 10 &&
                        std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (n.Tag() == "!" || !digits) wrong(key, "a positive integer", s);
    const std::int64_t v = std::stoll(s);
    if (v <= 0 || v > kMaxDimension)
      fail("{}: key '{}{}' is {} (must be between 1 and {})", file_, prefix_, key, v, kMaxDimension);
    return v;
  }

  double positive_number(const std::string& key) const {
    const YAML::Node n = scalar(key, "a positive number");
    const std::string& s = n.Scalar();
    if (n.Tag() == "!" || s.empty()) wrong(key, "a positive number", s);
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v))
      wrong(key, "a positive number", s);
    if (!(v > 0)) fail("{}: key '{}{}' is {} (must be positive)", file_, prefix_, key, s);
    return v;
  }

  bool boolean(const std::string& key) const {
    const YAML::Node n = scalar(key, "true or false");
    const std::string& s = n.Scalar();
    if (n.Tag() != "!" && s == "true") return true;
    if (n.Tag() != "!" && s == "false") return false;
    wrong(key, "true or false", s);
  }

  std::string one_of(const std::string& key, const std::vector<std::string>& choices) const {
    const std::string s = text(key);
    if (std::find(choices.begin(), choices.end(), s) == choices.end())
      fail("{}: key '{}{}' is '{}' (must be one of: {})", file_, prefix_, key, s,
           fmt::join(choices, ", "));
    return s;
  }

 private:
  YAML::Node scalar(const std::string& key, const char* expected) const {
    const YAML::Node n = map_[key];
    if (!n.IsScalar())
      fail("{}: key '{}{}' must be {}, not a {}", file_, prefix_, key, expected,
           n.IsMap() ? "mapping" : n.IsSequence() ? "list" : "null");
    return n;
  }
  [[noreturn]] void wrong(const std::string& key, const char* expected, const std::string& got) const {
    fail("{}: key '{}{}' must be {}, got '{}'", file_, prefix_, key, expected, got);
  }

  const YAML::Node& map_;
  std::string file_;
  std::string prefix_;
};

Architecture parse_architecture(const std::string& s) {
  if (s == "llama") return Architecture::Llama;
  if (s == "mistral") return Architecture::Mistral;
  if (s == "qwen2") return Architecture::Qwen2;
  return Architecture::Qwen3;  // one_of() admitted nothing else
}

bool has_models_folder(const fs::path& dir) {
  std::error_code ec;
  return !dir.empty() && fs::is_directory(dir / "models", ec);
}

bool valid_shape_name(const std::string& name) {
  return !name.empty() && name.size() <= 128 && name[0] != '.' &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
         });
}

}  // namespace

std::string catalog_config_dir() {
  std::vector<fs::path> tried;
  if (const char* env = std::getenv("LOCKSTEP_CONFIG_DIR"); env && *env) {
    if (has_models_folder(env)) return env;
    fail("LOCKSTEP_CONFIG_DIR is '{}', which has no models/ folder", env);
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    for (const fs::path& candidate : {dir / ".." / ".." / "configs", dir / ".." / "configs"}) {
      if (has_models_folder(candidate)) return candidate.lexically_normal().string();
      tried.push_back(candidate.lexically_normal());
    }
  }
  const fs::path source = fs::path(LOCKSTEP_SOURCE_DIR) / "configs";
  if (has_models_folder(source)) return source.string();
  tried.push_back(source);
  std::vector<std::string> names;
  for (const auto& p : tried) names.push_back(p.string());
  fail("cannot find the model catalog (configs/models): tried {}; set LOCKSTEP_CONFIG_DIR",
       fmt::join(names, ", "));
}

std::vector<std::string> catalog_shape_names() {
  const fs::path dir = fs::path(catalog_config_dir()) / "models";
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  if (ec) fail("{}: cannot list the folder ({})", dir.string(), ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

CatalogShape parse_catalog_file(const std::string& path, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    fail("{}: cannot open the catalog file", path);
  } catch (const YAML::Exception& e) {
    fail("{}: not valid YAML at line {} ({})", path, e.mark.line + 1, e.msg);
  }
  if (!root || root.IsNull()) fail("{}: the catalog file is empty", path);

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
      const YAML::Node node = root["rope_scaling"];
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
  const fs::path as_path(name_or_path);
  if (as_path.extension() == ".yaml") {
    std::error_code ec;
    if (!fs::is_regular_file(as_path, ec)) fail("catalog file '{}' does not exist", name_or_path);
    return parse_catalog_file(name_or_path, as_path.stem().string());
  }
  const auto names = catalog_shape_names();
  if (!valid_shape_name(name_or_path) ||
      std::find(names.begin(), names.end(), name_or_path) == names.end())
    fail("unknown model shape '{}' (the catalog has: {})", name_or_path, fmt::join(names, ", "));
  const fs::path file = fs::path(catalog_config_dir()) / "models" / (name_or_path + ".yaml");
  return parse_catalog_file(file.string(), name_or_path);
}

ModelConfig load_catalog_shape(const std::string& name_or_path) {
  return load_catalog_entry(name_or_path).config;
}

}  // namespace lockstep::model
