// Synthetic models: a GGUF file with the exact architecture of a catalog shape (tensor names,
// shapes, metadata) and seeded random weights, for tests and for running real-sized models
// without downloading them (`lockstep make-model`).
//
// Weights. Each tensor is drawn from the normal distribution below (the recipe of the test
// fixtures, ../shared/fixtures/README.md section 2, made size-independent with 1/sqrt(fan_in)):
//   token_embd       N(0, 0.5 * 16/sqrt(n_embd)) untied; N(0, 0.25 * 16/sqrt(n_embd)) tied
//   output           N(0, 0.25 * 16/sqrt(n_embd))       -> logits with a row std of about 4
//   attn_q/k/v, ffn_gate/up   N(0, 1/sqrt(n_embd))
//   attn_output      N(0, r/sqrt(n_head * head_dim)),  ffn_down  N(0, r/sqrt(n_ff));
//                    r = 1 untied, 4 tied (a random tied model otherwise echoes its input)
//   *_norm           N(1, 0.1);  qwen2 attn_q/k.bias N(0, 0.5), attn_v.bias N(0, 0.1);
//   qwen3 attn_q_norm/attn_k_norm N(1.2, 0.3)
// At n_embd = 256 these are exactly the fixture values. Matrices are stored as the chosen type
// (falling back per storage_type_for_rows when a row is not a whole number of blocks, with a
// warning); 1-D tensors are f32. Llama-3 RoPE scaling is written as rope_freqs.weight.
//
// Determinism. Every row of every tensor has its own random stream: xoshiro256** seeded by
// splitmix64 from (seed, tensor name, row). Normals come from Marsaglia and Tsang's ziggurat,
// whose tables and rare slow paths use exp/log computed here from IEEE basic operations only
// (no libm), so a seed gives the same file bytes on every run, machine and thread count.
//
// Memory. Tensors are generated and quantized a chunk of rows at a time while the file is
// written; a model much larger than memory can be made.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "model/catalog.h"
#include "numerics/tensor_type.h"
#include "tokenizer/vocabulary.h"

namespace lockstep::model {

struct SyntheticModelOptions {
  numerics::TensorType matrix_type = numerics::TensorType::F16;
  std::uint64_t seed = 1;
  std::string name;      // general.name; empty: "lockstep-synthetic-<shape>"
  unsigned threads = 0;  // worker threads for generation and quantization; 0 = one per core
  // Receives warnings and progress lines; empty = silent.
  std::function<void(const std::string&)> log;
};

// A made-up tokenizer with exactly config.n_vocab tokens.
// - tokenizer "spm": SentencePiece-style ('llama'): <unk>, <s>, </s>, the 256 <0xXX> byte
//   tokens, then pieces ('▁', letters, '▁'-words, then all letter strings by length) with
//   descending scores. BOS = 1, EOS = 2, UNK = 0, add_bos.
// - tokenizer "bpe": byte-level BPE ('gpt2'): the 256 byte characters, then merged tokens (each
//   the concatenation of two earlier tokens, with its merge), then 3 special tokens at the end:
//   <|endoftext|>, <|im_start|>, <|im_end|> with pre 'qwen2' for Qwen (BOS = PAD =
//   <|endoftext|>, EOS = EOT = <|im_end|>, no add_bos, a ChatML template), or
//   <|begin_of_text|>, <|end_of_text|>, <|eot_id|> with pre 'llama-bpe' for Llama shapes
//   (BOS, EOS, EOT in that order, add_bos).
// Throws lockstep::Error when n_vocab is too small for the specials and bytes.
tokenizer::Vocabulary synthetic_vocabulary(const ModelConfig& config, const std::string& tokenizer);

// Writes the model of `shape` to `path` (GGUF v3). Throws lockstep::Error.
void write_synthetic_model(const CatalogShape& shape, const SyntheticModelOptions& options,
                           const std::string& path);

}  // namespace lockstep::model
