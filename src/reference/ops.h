// The element-wise and per-head operations of a Llama-family block, in plain FP32.
#pragma once

#include <cstdint>
#include <span>

#include "model/model_config.h"

namespace lockstep::reference {

// x = x / sqrt(mean(x^2) + eps) * weight. x: [n] fp32, weight: [n] fp32. Sum of squares in
// double, in order.
void rms_norm(std::span<float> x, std::span<const float> weight, double eps);

// Rotates each head of `x` ([n_heads][head_dim] fp32) by the angles of position `pos`:
// theta_i = (pos / linear_scale) * theta_base^(-2i / head_dim) / freq_factor[i], pairing
// dimensions as config.rope_style says. Angles are computed in double.
void apply_rope(std::span<float> x, std::int64_t n_heads, std::int64_t pos,
                const model::ModelConfig& config);

// gate[i] = silu(gate[i]) * up[i]; silu(g) = g / (1 + exp(-g)). [n] fp32 each.
void swiglu(std::span<float> gate, std::span<const float> up);

// In-place softmax over x: [n] fp32, max-subtracted.
void softmax(std::span<float> x);

}  // namespace lockstep::reference
