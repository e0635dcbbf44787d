// Writing a model as a GGUF file that llama.cpp and lockstep both load: the metadata keys of
// llama.cpp's HF converter, the tokenizer (gguf_vocabulary_writer.h), and the weights
// re-quantized to one storage type for every matrix.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "format/gguf_writer.h"
#include "model/model.h"
#include "model/model_config.h"
#include "numerics/tensor_type.h"
#include "tokenizer/vocabulary.h"

namespace lockstep::model {

// The general.architecture a file of this config gets: the config's own name, except that
// Mistral is written as "llama" (as llama.cpp's converter does: the architecture is the same).
std::string gguf_architecture_name(const ModelConfig& config);

// Adds general.architecture, general.name, general.file_type (from `matrix_type`),
// general.quantization_version (for quantized types) and every '<arch>.*' hyper-parameter key the
// GGUF loader reads: context_length, embedding_length, block_count, feed_forward_length,
// attention.head_count, attention.head_count_kv, attention.key_length, attention.value_length,
// attention.layer_norm_rms_epsilon, rope.freq_base, rope.dimension_count, vocab_size, and
// rope.scaling.{type,factor} for linear RoPE scaling. Llama-3 frequency factors are not
// metadata: they go in the rope_freqs.weight tensor.
void add_model_config_metadata(GgufWriter& writer, const ModelConfig& config,
                               numerics::TensorType matrix_type);

// The type a matrix with rows of `row_length` values is stored as when `wanted` is asked for:
// `wanted` when the row is a whole number of its blocks, else the nearest type that fits
// (q4_K -> q4_0 -> f16, q6_K -> q8_0 -> f16, q8_0 / q4_0 -> f16).
numerics::TensorType storage_type_for_rows(numerics::TensorType wanted, std::uint64_t row_length);

// Writes `model` to `path` as GGUF v3 (used by `lockstep convert`).
// - Every 2-D tensor is dequantized row by row and re-quantized to `matrix_type` (with the
//   fallback above, reported through `log`); 1-D tensors (norms, biases) are stored as f32.
//   One chunk of rows is in memory at a time; the source stays memory-mapped.
// - Llama/Mistral weights in Hugging Face layout (config.rope_style == Halves) have the rows of
//   attn_q (n_head heads) and attn_k (n_head_kv heads) permuted as llama.cpp's converter does,
//   w.reshape(n_head, 2, head_dim/2, in).swapaxes(1, 2).reshape(out, in), so the file uses
//   adjacent-pair RoPE like every llama GGUF. Qwen keeps the halves layout (GGUF NEOX RoPE).
// - Llama-3 RoPE factors are written as rope_freqs.weight [head_dim / 2] f32.
// - The vocabulary is padded with "[PAD<id>]" tokens (type unused) up to n_vocab when the
//   tokenizer has fewer tokens than the embedding has rows, as llama.cpp's converter does.
// `log` receives warnings and progress lines (may be empty). Throws lockstep::Error.
void write_model_as_gguf(const Model& model, const tokenizer::Vocabulary& vocabulary,
                         numerics::TensorType matrix_type, const std::string& path,
                         const std::function<void(const std::string&)>& log = {});

}  // namespace lockstep::model
