// The row-wise float operations of a Llama-family block, shared by the reference pass and the CPU
// target so that both compute them with the same operations in the same order (the same bits).
// Plain FP32 with the stated double-precision sums; no allocation.
#pragma once

#include <cstdint>

namespace lockstep::numerics {

// out = x / sqrt(mean(x^2) + eps) * weight; the sum of squares in double, in order.
// x, weight, out: [n] fp32 (out may be x).
void rms_norm_row(const float* x, const float* weight, float* out, std::int64_t n, double eps);

// out[i] = silu(gate[i]) * up[i]; silu(g) = g / (1 + exp(-g)). [n] fp32 each (out may be gate).
void swiglu_row(const float* gate, const float* up, float* out, std::int64_t n);

// In-place softmax of x: [n] fp32 (n >= 1), max-subtracted, sum in double.
void softmax_row(float* x, std::int64_t n);

}  // namespace lockstep::numerics
