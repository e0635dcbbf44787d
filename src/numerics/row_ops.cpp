#include "numerics/row_ops.h"

#include <cmath>

namespace lockstep::numerics {

void rms_norm_row(const float* x, const float* weight, float* out, std::int64_t n, double eps) {
  double sum_sq = 0.0;
  for (std::int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  for (std::int64_t i = 0; i < n; ++i) out[i] = (x[i] * scale) * weight[i];
}

void swiglu_row(const float* gate, const float* up, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void softmax_row(float* x, std::int64_t n) {
  float max = x[0];
  for (std::int64_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (std::int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace lockstep::numerics
