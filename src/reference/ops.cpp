#include "reference/ops.h"

#include "numerics/row_ops.h"

#include <algorithm>
#include <cmath>

namespace lockstep::reference {

void rms_norm(std::span<float> x, std::span<const float> weight, double eps) {
  numerics::rms_norm_row(x.data(), weight.data(), x.data(), static_cast<std::int64_t>(x.size()),
                         eps);
}

void apply_rope(std::span<float> x, std::int64_t n_heads, std::int64_t pos,
                const model::ModelConfig& config) {
  const std::int64_t d = config.head_dim;
  const std::int64_t half = d / 2;
  for (std::int64_t i = 0; i < half; ++i) {
    const double theta = model::rope_angle(config, pos, i);
    const float c = static_cast<float>(std::cos(theta));
    const float s = static_cast<float>(std::sin(theta));
    for (std::int64_t h = 0; h < n_heads; ++h) {
      float* head = x.data() + h * d;
      // Adjacent pairs (2i, 2i+1) for ggml NORM; halves (i, i + d/2) for NEOX / rotate_half.
      const std::int64_t a = config.rope_style == model::RopeStyle::AdjacentPairs ? 2 * i : i;
      const std::int64_t b = config.rope_style == model::RopeStyle::AdjacentPairs ? 2 * i + 1 : i + half;
      const float x0 = head[a];
      const float x1 = head[b];
      head[a] = x0 * c - x1 * s;
      head[b] = x0 * s + x1 * c;
    }
  }
}

void swiglu(std::span<float> gate, std::span<const float> up) {
  numerics::swiglu_row(gate.data(), up.data(), gate.data(), static_cast<std::int64_t>(gate.size()));
}

void softmax(std::span<float> x) {
  numerics::softmax_row(x.data(), static_cast<std::int64_t>(x.size()));
}

}  // namespace lockstep::reference
