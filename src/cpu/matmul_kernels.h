// The matrix-product kernels of the CPU backend: y[t][o] = sum_i W[o][i] * x[t][i], for one
// weight storage type and one instruction-set level each.
//
// Weights are repacked once, at load, from the GGUF block layout into the layout the kernels
// read (a PackedMatrix in the backend's weight arena). The packed layout and the activation
// format depend on the type only, never on the ISA, so one packed matrix serves every ISA's
// kernel and tests can run them side by side.
//
// Activations enter a kernel in its type's ActivationFormat: fp32 rows for F32/F16/BF16
// weights, rows quantized to 8-bit blocks for the quantized types (as llama.cpp does: integer
// dot products, VNNI where present). prepare_activation writes one row in that format.
//
// Determinism contract (the backend's bit-identity at any thread count rests on it):
// - y[t][o] depends only on packed row o and activation row t: the same bits whatever the row
//   range [row_begin, row_end), the number of rows n, and the tile a value fell in. So splitting
//   rows over threads, and decoding a token alone or inside a prefill chunk, give equal bits.
// - prepare_activation writes the same bytes for the same input at every ISA level.
// - Results may differ between ISA levels (within the tolerance tests state), not between runs.
//
// Kernels never allocate, lock or make system calls.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/isa.h"
#include "numerics/tensor_type.h"

namespace lockstep::cpu {

// A weight matrix of `rows` outputs x `cols` inputs in its kernels' layout.
struct PackedMatrix {
  numerics::TensorType type = numerics::TensorType::F32;
  std::int64_t rows = 0;                // outputs
  std::int64_t cols = 0;                // inputs (a multiple of the type's block size)
  const std::uint8_t* data = nullptr;   // packed_bytes(rows, cols) bytes, 64-byte aligned
};

struct WeightFormat {
  numerics::TensorType type;
  // Bytes of a packed {cols, rows} matrix.
  std::size_t (*packed_bytes)(std::int64_t rows, std::int64_t cols);
  // Repacks rows [row_begin, row_end) of `src` (the whole tensor in GGUF block layout, rows of
  // tensor_bytes(type, cols) bytes) into `dst` (the whole packed buffer, 64-byte aligned).
  // Disjoint row ranges may be packed concurrently.
  void (*pack)(const std::uint8_t* src, std::uint8_t* dst, std::int64_t rows, std::int64_t cols,
               std::int64_t row_begin, std::int64_t row_end);
  // Bytes of one activation row of `cols` values in this type's activation format (a multiple
  // of 64, so that rows stay 64-byte aligned).
  std::size_t (*activation_row_bytes)(std::int64_t cols);
};

// One ISA level's kernels for one weight type.
struct MatmulKernel {
  // x: [cols] fp32 -> out: activation_row_bytes(cols) bytes, 64-byte aligned.
  void (*prepare_activation)(const float* x, std::uint8_t* out, std::int64_t cols);
  // For t < n and o in [row_begin, row_end): y[t * y_stride + o] = W[o] . x[t], where x row t
  // starts at x + t * x_stride (x_stride = activation_row_bytes(cols) or a multiple of 64).
  void (*matmul)(const PackedMatrix& w, const std::uint8_t* x, std::size_t x_stride, float* y,
                 std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                 std::int64_t row_end);
};

// The format of `type` (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K). Throws lockstep::Error for
// any other type.
const WeightFormat& weight_format(numerics::TensorType type);
// The kernels of `type` at `isa` (which must be supported by this processor). Throws
// lockstep::Error for an unsupported type.
const MatmulKernel& matmul_kernel(numerics::TensorType type, Isa isa);

}  // namespace lockstep::cpu
