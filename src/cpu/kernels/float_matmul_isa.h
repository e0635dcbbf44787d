// The per-ISA entry points of the float matmul family (float_matmul.cpp picks one). Plain
// C-style signatures, so the *_avx2.cpp / *_avx512.cpp files need no STL header.
//
// Packed layout (the same for every ISA): the rows as stored (fp32, fp16 or bf16 bits), each
// row zero-padded to a multiple of 64 bytes; row o starts at w + o * w_row_bytes.
// Activation layout: fp32 rows zero-padded to a multiple of 64 bytes.
//
// Summation order (identical at every ISA, so every ISA gives the same bits): an output
// y[t][o] is 16 lanes; lane l accumulates k = l, l + 16, l + 32, ... < round_up(cols, 16) in
// order with a fused multiply-add (acc = fma(w, x, acc), from +0). The zero padding of both
// operands supplies the tail k >= cols. The lanes are then summed by a fixed tree:
// s[l] + s[l + 8] (l < 8), then + [l + 4] (l < 4), then + [l + 2] (l < 2), then [0] + [1].
#pragma once

#include <cstddef>
#include <cstdint>

namespace lockstep::cpu::kernels {

enum class FloatWeight : int { F32 = 0, F16 = 1, BF16 = 2 };

// y[t * y_stride + o] = W[o] . x[t] for t < n, o in [row_begin, row_end).
//   w: [rows][w_row_bytes] packed weights; x: n rows of [cols] fp32 (padded), x_stride bytes
//   apart; y: fp32.
using FloatMatmulFn = void (*)(FloatWeight type, const std::uint8_t* w, std::size_t w_row_bytes,
                               std::int64_t cols, const std::uint8_t* x, std::size_t x_stride,
                               float* y, std::size_t y_stride, std::int64_t n,
                               std::int64_t row_begin, std::int64_t row_end);

void float_matmul_portable(FloatWeight type, const std::uint8_t* w, std::size_t w_row_bytes,
                           std::int64_t cols, const std::uint8_t* x, std::size_t x_stride,
                           float* y, std::size_t y_stride, std::int64_t n,
                           std::int64_t row_begin, std::int64_t row_end);
void float_matmul_avx2(FloatWeight type, const std::uint8_t* w, std::size_t w_row_bytes,
                       std::int64_t cols, const std::uint8_t* x, std::size_t x_stride, float* y,
                       std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                       std::int64_t row_end);
void float_matmul_avx512(FloatWeight type, const std::uint8_t* w, std::size_t w_row_bytes,
                         std::int64_t cols, const std::uint8_t* x, std::size_t x_stride, float* y,
                         std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                         std::int64_t row_end);

}  // namespace lockstep::cpu::kernels
