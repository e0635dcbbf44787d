// The row-wise operations of the CPU target that the reference pass computes differently: RoPE
// from a precomputed table of the reference's angles (the same bits), and the residual add.
// RMSNorm, SwiGLU and softmax are shared with the reference (numerics/row_ops.h).
#pragma once

#include <cstdint>

namespace lockstep::cpu {

// Rotates each of `heads` heads of x ([heads][head_dim] fp32, in place) by the angles of one
// position: cos_sin is [head_dim / 2][2] fp32 (cos, sin). adjacent_pairs: dimensions (2i, 2i+1)
// (ggml NORM), else (i, i + head_dim / 2) (NEOX).
void rope_row(float* x, std::int64_t heads, std::int64_t head_dim, const float* cos_sin,
              bool adjacent_pairs);

// out[i] = a[i] + b[i]. [n] fp32 each (out may be a).
void add_row(const float* a, const float* b, float* out, std::int64_t n);

}  // namespace lockstep::cpu
