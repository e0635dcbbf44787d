#include "cpu/elementwise.h"

#include <cmath>

namespace lockstep::cpu {

void rope_row(float* x, std::int64_t heads, std::int64_t head_dim, const float* cos_sin,
              bool adjacent_pairs) {
  const std::int64_t half = head_dim / 2;
  for (std::int64_t h = 0; h < heads; ++h) {
    float* head = x + h * head_dim;
    for (std::int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const std::int64_t a = adjacent_pairs ? 2 * i : i;
      const std::int64_t b = adjacent_pairs ? 2 * i + 1 : i + half;
      const float x0 = head[a], x1 = head[b];
      head[a] = x0 * c - x1 * s;
      head[b] = x0 * s + x1 * c;
    }
  }
}

void add_row(const float* a, const float* b, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

}  // namespace lockstep::cpu
