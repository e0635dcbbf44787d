// Dequantization of GGUF/ggml tensor rows to fp32: the reference path, scalar and portable.
//
// Contract: the results are bit-identical to ggml's reference dequantizers (ggml-quants.c:
// dequantize_row_q4_0, dequantize_row_q8_0, dequantize_row_q4_K, dequantize_row_q6_K, and the
// fp16 / bf16 widening conversions), including the order of every float operation, given that
// lockstep compiles with -ffp-contract=off (no fused multiply-add).
#pragma once

#include <cstdint>

#include "numerics/tensor_type.h"

namespace lockstep::numerics {

// Decodes `n` values of one row stored as `type`.
//   src: tensor_bytes(type, n) bytes in the ggml block layout (any alignment, little-endian)
//   dst: [n] fp32
// `n` must be a non-negative multiple of the type's block size (1 for F32/F16/BF16, 32 for
// Q4_0/Q8_0, 256 for Q4_K/Q6_K); otherwise throws lockstep::Error and writes nothing.
void dequantize_row(TensorType type, const std::uint8_t* src, float* dst, std::int64_t n);

}  // namespace lockstep::numerics
