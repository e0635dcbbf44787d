// The hyper-parameters of one decoder-only transformer, independent of the file it came from.
// Every backend (reference, cpu, lpu) reads only this struct and the named weights of Model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lockstep::model {

enum class Architecture { Llama, Mistral, Qwen2, Qwen3 };

// How RoPE pairs the dimensions of a head (see ../shared/fixtures/README.md, section 8).
enum class RopeStyle {
  AdjacentPairs,  // (x[2i], x[2i+1]): ggml "NORM", used by GGUF llama/mistral (q/k permuted)
  Halves,         // (x[i], x[i + d/2]): ggml "NEOX", Hugging Face rotate_half, GGUF qwen2/qwen3
};

struct ModelConfig {
  Architecture architecture = Architecture::Llama;
  std::string architecture_name;  // as the file names it: "llama", "qwen2", ...
  std::string name;               // general.name, or the folder name

  std::int64_t n_vocab = 0;
  std::int64_t n_embd = 0;        // residual width
  std::int64_t n_layer = 0;
  std::int64_t n_head = 0;        // query heads
  std::int64_t n_head_kv = 0;     // key/value heads (grouped-query attention)
  std::int64_t head_dim = 0;      // may differ from n_embd / n_head (Qwen3)
  std::int64_t n_ff = 0;          // SwiGLU hidden width
  std::int64_t n_ctx_train = 0;   // context length the model was trained for, tokens

  double rms_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeStyle rope_style = RopeStyle::AdjacentPairs;
  // Per-pair divisors of the RoPE frequency (Llama 3 'llama3' scaling); empty means all 1.
  std::vector<float> rope_freq_factors;  // [head_dim / 2]
  double rope_linear_scale = 1.0;        // positions are multiplied by 1 / factor ('linear')

  bool qkv_bias = false;         // Qwen2
  bool qk_norm = false;          // Qwen3: RMSNorm per head on q and k before RoPE
  bool tied_embeddings = false;  // output projection is token_embd

  std::int64_t q_dim() const { return n_head * head_dim; }
  std::int64_t kv_dim() const { return n_head_kv * head_dim; }
  std::uint64_t parameter_count() const;
};

const char* architecture_name(Architecture a);

// The RoPE angle of dimension pair i (0 <= i < head_dim / 2) at position pos, in radians:
// (pos / rope_linear_scale) * rope_theta^(-2i / head_dim) / rope_freq_factors[i], in double.
// Every target rotates by these angles (cos and sin rounded to fp32).
double rope_angle(const ModelConfig& config, std::int64_t pos, std::int64_t i);

// Llama 3 'llama3' RoPE scaling, computed as Hugging Face and llama.cpp's converter do:
// one divisor per frequency pair. head_dim / 2 values.
std::vector<float> llama3_rope_freq_factors(std::int64_t head_dim, double rope_theta,
                                            double factor, double low_freq_factor,
                                            double high_freq_factor,
                                            double original_context_length);

}  // namespace lockstep::model
