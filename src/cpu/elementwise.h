// The row-wise operations of a Llama-family block on the CPU target, one row at a time. They
// follow the reference pass (reference/ops.h) operation by operation, so their results are the
// reference's bits for the same inputs; fixed order, no allocation.
#pragma once

#include <cstdint>

namespace lockstep::cpu {

// out = x / sqrt(mean(x^2) + eps) * weight; the sum of squares in double, in order.
// x, weight, out: [n] fp32 (out may be x).
void rms_norm_row(const float* x, const float* weight, float* out, std::int64_t n, double eps);

// Rotates each of `heads` heads of x ([heads][head_dim] fp32, in place) by the angles of one
// position: cos_sin is [head_dim / 2][2] fp32 (cos, sin). adjacent_pairs: dimensions (2i, 2i+1)
// (ggml NORM), else (i, i + head_dim / 2) (NEOX).
void rope_row(float* x, std::int64_t heads, std::int64_t head_dim, const float* cos_sin,
              bool adjacent_pairs);

// out[i] = silu(gate[i]) * up[i]. [n] fp32 each (out may be gate).
void swiglu_row(const float* gate, const float* up, float* out, std::int64_t n);

// In-place softmax of x: [n] fp32, max-subtracted, sum in double.
void softmax_row(float* x, std::int64_t n);

// out[i] = a[i] + b[i]. [n] fp32 each (out may be a).
void add_row(const float* a, const float* b, float* out, std::int64_t n);

}  // namespace lockstep::cpu
