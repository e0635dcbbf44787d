// Quantization of fp32 rows into GGUF/ggml tensor types: the reference path used to write model
// files, scalar and portable.
//
// Contract:
// - F32 is a copy; F16 and BF16 convert each value with round-to-nearest-even (numerics/half.h;
//   values beyond the fp16 range become infinities, NaN stays NaN, no checks).
// - Q8_0, Q4_0, Q4_K and Q6_K follow llama.cpp's reference quantizers (ggml-quants.c:
//   quantize_row_q8_0_ref, quantize_row_q4_0_ref, quantize_row_q4_K_ref with make_qkx2_quants,
//   quantize_row_q6_K_ref with make_qx_quants) operation by operation, so that for finite inputs
//   in range the bytes equal what llama-quantize writes without an importance matrix (when
//   llama.cpp is compiled without FMA contraction of these loops, as on x86-64 builds).
//   Blocks are independent: a row of n values is quantized like n / block_size separate blocks.
// - The quantized types need finite inputs whose block scales fit fp16: roughly |x| up to 8.3e6
//   for Q8_0, 5.2e5 for Q4_0, 2.7e8 for Q6_K, and for Q4_K x from -4.1e6 (the 6-bit min times
//   the fp16 dmin) up to 6e7. A NaN or infinite input, or a block whose fp16 scale would
//   overflow to infinity (where llama.cpp would silently write an infinite scale), throws
//   lockstep::Error naming the block. Tiny values are valid: a scale below the fp16 range rounds
//   to zero and the block decodes to zeros (Q6_K: values below about 1e-4; Q8_0: about 4e-6).
#pragma once

#include <cstdint>

#include "numerics/tensor_type.h"

namespace lockstep::numerics {

// Encodes one row of `n` values as `type`.
//   src: [n] fp32
//   dst: tensor_bytes(type, n) bytes in the ggml block layout (any alignment, little-endian)
// `n` must be a non-negative multiple of the type's block size (1 for F32/F16/BF16, 32 for
// Q4_0/Q8_0, 256 for Q4_K/Q6_K); otherwise throws lockstep::Error. After an error the content
// of dst is unspecified.
void quantize_row(TensorType type, const float* src, std::uint8_t* dst, std::int64_t n);

}  // namespace lockstep::numerics
