// A loaded model: its configuration, its tokenizer and named views of its weights. The weights
// are never copied: views point into the memory-mapped files (or the embedded blob) that the
// model keeps alive. Tensor names are GGUF's ("blk.0.attn_q.weight") whatever the source format.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "model/model_config.h"
#include "format/tensor_view.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::model {

struct LayerWeights {
  const TensorView* attn_norm = nullptr;    // [n_embd] f32
  const TensorView* wq = nullptr;           // {n_embd, q_dim}: y[q_dim] = wq x[n_embd]
  const TensorView* wk = nullptr;           // {n_embd, kv_dim}
  const TensorView* wv = nullptr;           // {n_embd, kv_dim}
  const TensorView* wo = nullptr;           // {q_dim, n_embd}
  const TensorView* bq = nullptr;           // [q_dim] f32, Qwen2 only
  const TensorView* bk = nullptr;           // [kv_dim] f32, Qwen2 only
  const TensorView* bv = nullptr;           // [kv_dim] f32, Qwen2 only
  const TensorView* q_norm = nullptr;       // [head_dim] f32, Qwen3 only
  const TensorView* k_norm = nullptr;       // [head_dim] f32, Qwen3 only
  const TensorView* ffn_norm = nullptr;     // [n_embd] f32
  const TensorView* ffn_gate = nullptr;     // {n_embd, n_ff}
  const TensorView* ffn_up = nullptr;       // {n_embd, n_ff}
  const TensorView* ffn_down = nullptr;     // {n_ff, n_embd}
};

class Model {
 public:
  ModelConfig config;
  std::string source;  // the path it was loaded from, or "embedded"
  std::string format;  // "gguf" or "safetensors"
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;

  const TensorView* token_embd = nullptr;   // {n_embd, n_vocab}: row t is token t's embedding
  const TensorView* output_norm = nullptr;  // [n_embd] f32
  const TensorView* output = nullptr;       // {n_embd, n_vocab}; == token_embd when tied
  std::vector<LayerWeights> layers;         // [n_layer]

  // All tensors by name, and the mappings that hold their bytes.
  std::map<std::string, TensorView> tensors;
  std::vector<std::shared_ptr<const MappedFile>> mappings;
  // Metadata worth showing (`lockstep info`) that has no field in ModelConfig, in file order.
  std::vector<std::pair<std::string, std::string>> extra_metadata;

  // Binds the named weight pointers after `tensors` and `config` are filled, checking that
  // every tensor the architecture needs is present with the right shape and a supported type.
  // Throws lockstep::Error naming `source` and the tensor.
  void bind_weights();

  std::uint64_t weight_bytes() const;  // bytes of all tensors as stored
};

}  // namespace lockstep::model
