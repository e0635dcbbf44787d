// The model-shape catalog: published hyper-parameters of well-known models, one YAML file per
// shape in configs/models/<name>.yaml. A shape has no weights; it feeds the performance model
// (compile, simulate, plan) and `lockstep make-model`, which writes a GGUF file of that shape
// with random weights.
//
// File format (every key required unless marked optional; any other key is an error):
//   source: <the Hugging Face config.json the numbers come from>
//   architecture: llama | mistral | qwen2 | qwen3
//   n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff: positive integers (values)
//   n_ctx_train: positive integer (tokens)
//   rms_eps, rope_theta: positive numbers
//   tied_embeddings: true | false
//   tokenizer: spm | bpe   (SentencePiece or byte-level BPE)
//   rope_scaling: (optional) {type: llama3, factor, low_freq_factor, high_freq_factor,
//                             original_context_length}  or  {type: linear, factor}
//
// The folder is found as core/config_files.h says (first $LOCKSTEP_CONFIG_DIR, then beside the
// executable, then the source tree): the first configs/ that holds a models/ folder. Errors throw
// lockstep::Error naming the file and key.
#pragma once

#include <string>
#include <vector>

#include "model/model_config.h"

namespace lockstep::model {

struct CatalogShape {
  std::string name;       // the file's stem: "llama-2-7b"
  std::string file;       // the YAML file it was read from
  std::string source;     // where the numbers come from
  std::string tokenizer;  // "spm" or "bpe"
  ModelConfig config;     // rope_style, qkv_bias, qk_norm follow the architecture as in GGUF
};

// The configs/ folder (see above). Throws when none is found.
std::string catalog_config_dir();

// Names of all shapes, sorted.
std::vector<std::string> catalog_shape_names();

// Loads a shape by name, or from a path ending in ".yaml".
CatalogShape load_catalog_entry(const std::string& name_or_path);
ModelConfig load_catalog_shape(const std::string& name_or_path);

// Parses one catalog file; `name` becomes the shape's name.
CatalogShape parse_catalog_file(const std::string& path, const std::string& name);

}  // namespace lockstep::model
