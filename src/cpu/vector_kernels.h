// The small vector kernels of attention and the KV cache, per ISA level: keys and values are
// stored fp16, logits and the softmax stay fp32.
//
// Determinism: every output value is computed in an order fixed by the code (not by the caller's
// split of the work), so results are the same bits on every run; they may differ between ISA
// levels within rounding. Kernels never allocate.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/isa.h"

namespace lockstep::cpu {

struct VectorKernels {
  // scores[j] = scale * sum_i q[i] * fp32(k[j * k_stride + i]) for j < n_keys.
  //   q: [d] fp32; k: n_keys rows of [d] fp16 (bits), k_stride elements apart; scores: [n_keys] fp32
  void (*dot_fp16_rows)(const float* q, const std::uint16_t* k, std::size_t k_stride,
                        std::int64_t d, std::int64_t n_keys, float scale, float* scores);
  // out[i] = sum_j p[j] * fp32(v[j * v_stride + i]) for i < d (out is overwritten).
  //   p: [n_rows] fp32; v: n_rows rows of [d] fp16 (bits); out: [d] fp32
  void (*weighted_sum_fp16_rows)(const float* p, const std::uint16_t* v, std::size_t v_stride,
                                 std::int64_t d, std::int64_t n_rows, float* out);
  // out[i] = fp16(x[i]), round to nearest even (numerics::fp32_to_fp16's bits). [n] each.
  void (*fp32_to_fp16)(const float* x, std::uint16_t* out, std::int64_t n);
};

// The kernels at `isa` (which must be supported by this processor).
const VectorKernels& vector_kernels(Isa isa);

}  // namespace lockstep::cpu
