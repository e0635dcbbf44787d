// Internal to the Q8_0 / Q4_0 kernels: the packed weight layout, the activation format and the
// per-ISA entry points (plain C-style signatures, so the *_avx2.cpp / *_avx512.cpp files need no
// STL header). Include only <cstddef>, <cstdint> here.
//
// PACKED WEIGHTS (the same for every ISA). Rows are grouped in panels of 16 (the last panel is
// padded with zero rows: zero quants and zero scales). nb = cols / 32 blocks per row.
//   panel p (rows 16p .. 16p+15) starts at p * panel_bytes(type, cols):
//     quants: nb blocks of 16 rows, block b at b * block_quant_bytes(type):
//       Q8_0: 8 chunks of 64 bytes; chunk s holds, at byte 4r + j (r < 16, j < 4), the value
//             32b + 4s + j of row r as an unsigned byte u = q + 128 (q ^ 0x80).
//       Q4_0: 4 chunks of 64 bytes; chunk c holds, at byte 4r + j, GGUF byte 4c + j of the
//             block of row r: low nibble = value 4c + j, high nibble = value 16 + 4c + j
//             (unsigned 0..15, the weight is nibble - 8).
//       So one 64-byte load gives 16 rows x 4 consecutive values (Q4_0: &0xF and >>4 give two
//       such steps), the operand of vpdpbusd against a broadcast of 4 activation bytes.
//     scales: [nb][16] fp16 (bits), the GGUF block scale d of row r of block b at [b][r],
//       padded to a multiple of 64 bytes.
//   Bytes per weight: Q8_0 (512 + 32) / 512 = 34/32, Q4_0 (256 + 32) / 512 = 18/32 (the GGUF
//   figures; only the 64-byte padding of the scales and of the last panel adds to it).
//   One panel is one contiguous, sequential stream: decode reads the matrix front to back.
//
// ACTIVATIONS (one row of `cols` fp32 values, 32-value blocks, the same bytes at every ISA):
//   [0, round64(cols))                 q: [cols] int8, q = round_to_nearest_even(x * id)
//   [qbytes, + round64(4 nb))          d: [nb] fp32, d = amax / 127, id = d ? 1 / d : 0
//                                      (d = 0 when amax < kMinActivationAmax)
//   [qbytes + dbytes, + round64(4 nb)) bias: [nb] int32, -offset * sum(q of the block), with
//                                      offset 128 for Q8_0 (weights stored as q + 128) and 8
//                                      for Q4_0 (nibble - 8).
//
// ARITHMETIC (the same at every ISA, hence bit-identical results across ISAs):
//   for each block b: s_b = sum_i w_i q_i, an exact int32 (|s_b| <= 32 * 128 * 127);
//   y = 0; for b = 0 .. nb-1 in order: y = fma(float(s_b), fp32(dw_b) * d_b, y).
//   Each output is one lane on its own, no horizontal reduction, so tiling, row range and n
//   cannot change its bits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lockstep::cpu::kernels::q8q4 {

constexpr std::int64_t kPanelRows = 16;
constexpr std::int64_t kBlock = 32;

constexpr std::int64_t round64(std::int64_t bytes) { return (bytes + 63) / 64 * 64; }

// is_q4: false for Q8_0, true for Q4_0.
constexpr std::int64_t block_quant_bytes(bool is_q4) { return is_q4 ? 256 : 512; }
constexpr std::int64_t panel_quant_bytes(bool is_q4, std::int64_t cols) {
  return cols / kBlock * block_quant_bytes(is_q4);
}
constexpr std::int64_t panel_bytes(bool is_q4, std::int64_t cols) {
  return panel_quant_bytes(is_q4, cols) + round64(cols / kBlock * kPanelRows * 2);
}
constexpr std::int64_t panel_count(std::int64_t rows) { return (rows + kPanelRows - 1) / kPanelRows; }

constexpr std::int64_t activation_q_bytes(std::int64_t cols) { return round64(cols); }
constexpr std::int64_t activation_d_bytes(std::int64_t cols) { return round64(cols / kBlock * 4); }
constexpr std::int64_t activation_bytes(std::int64_t cols) {
  return activation_q_bytes(cols) + 2 * activation_d_bytes(cols);
}
constexpr std::int32_t activation_offset(bool is_q4) { return is_q4 ? 8 : 128; }

// The three parts of an activation row (ACTIVATIONS above) that starts at out. Internal linkage
// and always inlined: every TU, whatever its ISA flags, gets its own copy.
struct ActivationRow {
  std::int8_t* q;      // [cols] int8
  float* d;            // [nb] fp32
  std::int32_t* bias;  // [nb] int32
};
static inline __attribute__((always_inline)) ActivationRow activation_row(std::uint8_t* out,
                                                                          std::int64_t cols) {
  return ActivationRow{
      reinterpret_cast<std::int8_t*>(out),
      reinterpret_cast<float*>(out + activation_q_bytes(cols)),
      reinterpret_cast<std::int32_t*>(out + activation_q_bytes(cols) + activation_d_bytes(cols))};
}

// A block whose amax is below this quantizes to zeros with d = 0: below about 3.7e-37, 1 / d
// would overflow to infinity (and the fp32 -> int conversion differ between C++ and SIMD);
// 2^-100 is far below any contribution an fp32 output can resolve.
constexpr float kMinActivationAmax = 7.888609052210118e-31f;  // 2^-100

// Per-ISA entry points. prepare: x [cols] fp32 -> out activation_bytes(cols) bytes.
// matmul: w = the packed matrix (rows x cols); see MatmulKernel::matmul for the rest.
#define LOCKSTEP_Q8Q4_DECLARE(isa)                                                              \
  void prepare_activation_##isa(const float* x, std::uint8_t* out, std::int64_t cols,           \
                                std::int32_t offset);                                          \
  void matmul_q8_0_##isa(const std::uint8_t* w, std::int64_t rows, std::int64_t cols,           \
                         const std::uint8_t* x, std::size_t x_stride, float* y,                 \
                         std::size_t y_stride, std::int64_t n, std::int64_t row_begin,          \
                         std::int64_t row_end);                                                 \
  void matmul_q4_0_##isa(const std::uint8_t* w, std::int64_t rows, std::int64_t cols,           \
                         const std::uint8_t* x, std::size_t x_stride, float* y,                 \
                         std::size_t y_stride, std::int64_t n, std::int64_t row_begin,          \
                         std::int64_t row_end);

LOCKSTEP_Q8Q4_DECLARE(portable)
LOCKSTEP_Q8Q4_DECLARE(avx2)
LOCKSTEP_Q8Q4_DECLARE(avx512)

#undef LOCKSTEP_Q8Q4_DECLARE

// Defines matmul_q8_0_<isa> and matmul_q4_0_<isa> as impl<false> and impl<true>: impl is the
// including file's matmul template on is_q4, with the entry points' parameters.
#define LOCKSTEP_Q8Q4_DEFINE_MATMULS(isa, impl)                                                \
  void matmul_q8_0_##isa(const std::uint8_t* w, std::int64_t rows, std::int64_t cols,           \
                         const std::uint8_t* x, std::size_t x_stride, float* y,                 \
                         std::size_t y_stride, std::int64_t n, std::int64_t row_begin,          \
                         std::int64_t row_end) {                                                \
    impl<false>(w, rows, cols, x, x_stride, y, y_stride, n, row_begin, row_end);                \
  }                                                                                             \
  void matmul_q4_0_##isa(const std::uint8_t* w, std::int64_t rows, std::int64_t cols,           \
                         const std::uint8_t* x, std::size_t x_stride, float* y,                 \
                         std::size_t y_stride, std::int64_t n, std::int64_t row_begin,          \
                         std::int64_t row_end) {                                                \
    impl<true>(w, rows, cols, x, x_stride, y, y_stride, n, row_begin, row_end);                 \
  }

}  // namespace lockstep::cpu::kernels::q8q4
