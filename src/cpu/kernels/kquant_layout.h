// Internal to the Q4_K / Q6_K kernel family: the packed weight layout, the activation layout,
// and the per-ISA entry points (plain C-style signatures, so that *_avx2.cpp / *_avx512.cpp
// include nothing but this header and <immintrin.h>).
//
// Position order. Inside a super-block of 256 values, both weights and activations are stored in
// "lane order": position p = 64*k + 4*l + b (k = 0..3, l = 0..15, b = 0..3) holds the value of
// natural index i = 16*l + 4*k + b. So a 64-byte load k puts the 4 bytes of group l (the 16
// values i = 16l..16l+15 that share a Q6_K scale; pairs of groups share a Q4_K scale/min) in
// 32-bit lane l: a dot-product instruction (vpdpbusd, or maddubs + madd) summed over k leaves
// one group per lane, and the scales apply per lane with one multiply (no shuffles). A 32-byte
// load k, half h covers lanes 8h..8h+7 (AVX2).
//
// Packed matrix (nb = cols / 256 super-blocks per row), both types:
//   quants: [rows][nb][kQuantBytes] at offset 0 (every super-block 64-byte aligned)
//   meta:   [rows][nb][kMetaBytes] right after the quants (no alignment)
//   total rounded up to 64 bytes.
// Q4_K quants (128 B): byte j < 64: low nibble = position j, high nibble = position 64 + j;
//   byte 64 + j: low nibble = position 128 + j, high = position 192 + j. Values 0..15.
// Q4_K meta (20 B): uint8 sc[8], uint8 m[8] (the unpacked 6-bit scales / mins of sub-blocks of
//   32 = groups 2s, 2s+1), fp16 d, fp16 dmin. x = d*sc*q - dmin*m. 148 B / 256 values (GGUF 144).
// Q6_K quants (192 B): 128 B low nibbles laid out as Q4_K's, then 64 B high bits: byte j holds
//   bits 4..5 of position 64k + j in its bits 2k..2k+1. Values 0..63.
// Q6_K meta (18 B): int8 sc[16] (per group), fp16 d. x = d*sc*(q - 32). 210 B / 256 (as GGUF).
//
// Activation row (the same for both types and every ISA; nb super-blocks):
//   q:     [nb][256] int8 in lane order, offset 0, values -127..127
//   bsums: [nb][16] int16, sum of q over each group (natural order), offset 256*nb
//   d:     [nb] fp32 scale (x ~ d * q), offset 288*nb
//   total rounded up to 64 bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lockstep::cpu::kernels::kquant {

constexpr std::int64_t kBlock = 256;
constexpr std::size_t kQ4QuantBytes = 128;
constexpr std::size_t kQ4MetaBytes = 20;
constexpr std::size_t kQ6QuantBytes = 192;
constexpr std::size_t kQ6MetaBytes = 18;

constexpr std::size_t act_bsums_offset(std::int64_t nb) { return static_cast<std::size_t>(nb) * 256; }
constexpr std::size_t act_d_offset(std::int64_t nb) { return static_cast<std::size_t>(nb) * 288; }

// Natural index of lane-order position p (and back: the map is its own kind of transpose).
constexpr int natural_index(int p) { return 16 * ((p % 64) / 4) + 4 * (p / 64) + p % 4; }

// One matmul entry point per type and ISA (the MatmulKernel::matmul contract, with the packed
// matrix spelled out). data: packed bytes; rows/cols: the matrix shape.
using MatmulFn = void (*)(const std::uint8_t* data, std::int64_t rows, std::int64_t cols,
                          const std::uint8_t* x, std::size_t x_stride, float* y,
                          std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                          std::int64_t row_end);

void matmul_q4k_avx2(const std::uint8_t* data, std::int64_t rows, std::int64_t cols,
                     const std::uint8_t* x, std::size_t x_stride, float* y, std::size_t y_stride,
                     std::int64_t n, std::int64_t row_begin, std::int64_t row_end);
void matmul_q6k_avx2(const std::uint8_t* data, std::int64_t rows, std::int64_t cols,
                     const std::uint8_t* x, std::size_t x_stride, float* y, std::size_t y_stride,
                     std::int64_t n, std::int64_t row_begin, std::int64_t row_end);
void matmul_q4k_avx512(const std::uint8_t* data, std::int64_t rows, std::int64_t cols,
                       const std::uint8_t* x, std::size_t x_stride, float* y,
                       std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                       std::int64_t row_end);
void matmul_q6k_avx512(const std::uint8_t* data, std::int64_t rows, std::int64_t cols,
                       const std::uint8_t* x, std::size_t x_stride, float* y,
                       std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                       std::int64_t row_end);

}  // namespace lockstep::cpu::kernels::kquant
