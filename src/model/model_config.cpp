#include "model/model_config.h"

#include <cmath>
#include <numbers>

namespace lockstep::model {

const char* architecture_name(Architecture a) {
  switch (a) {
    case Architecture::Llama: return "llama";
    case Architecture::Mistral: return "mistral";
    case Architecture::Qwen2: return "qwen2";
    case Architecture::Qwen3: return "qwen3";
  }
  return "?";
}

std::uint64_t ModelConfig::parameter_count() const {
  const std::uint64_t attn = static_cast<std::uint64_t>(n_embd) * (q_dim() + 2 * kv_dim()) +
                             static_cast<std::uint64_t>(q_dim()) * n_embd;
  const std::uint64_t ffn = 3ull * n_embd * n_ff;
  std::uint64_t norms = 2ull * n_embd + (qk_norm ? 2ull * head_dim : 0);
  std::uint64_t bias = qkv_bias ? static_cast<std::uint64_t>(q_dim() + 2 * kv_dim()) : 0;
  std::uint64_t per_layer = attn + ffn + norms + bias;
  std::uint64_t embed = static_cast<std::uint64_t>(n_vocab) * n_embd;
  return per_layer * n_layer + embed * (tied_embeddings ? 1 : 2) + n_embd;
}

std::vector<float> llama3_rope_freq_factors(std::int64_t head_dim, double rope_theta,
                                            double factor, double low_freq_factor,
                                            double high_freq_factor,
                                            double original_context_length) {
  // As in Hugging Face's _compute_llama3_parameters: wavelengths longer than
  // original_context / low_freq_factor are slowed by `factor`, shorter than
  // original_context / high_freq_factor are kept, and the band between is interpolated.
  const double low_freq_wavelen = original_context_length / low_freq_factor;
  const double high_freq_wavelen = original_context_length / high_freq_factor;
  std::vector<float> factors;
  for (std::int64_t i = 0; i < head_dim; i += 2) {
    const double freq = 1.0 / std::pow(rope_theta, static_cast<double>(i) / head_dim);
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double divisor;
    if (wavelen < high_freq_wavelen) {
      divisor = 1.0;
    } else if (wavelen > low_freq_wavelen) {
      divisor = factor;
    } else {
      const double smooth = (original_context_length / wavelen - low_freq_factor) /
                            (high_freq_factor - low_freq_factor);
      divisor = 1.0 / ((1.0 - smooth) / factor + smooth);
    }
    factors.push_back(static_cast<float>(divisor));
  }
  return factors;
}

double rope_angle(const ModelConfig& config, std::int64_t pos, std::int64_t i) {
  const double position = static_cast<double>(pos) / config.rope_linear_scale;
  double theta = position * std::pow(config.rope_theta, -2.0 * i / config.head_dim);
  if (!config.rope_freq_factors.empty()) theta /= config.rope_freq_factors[i];
  return theta;
}

}  // namespace lockstep::model
