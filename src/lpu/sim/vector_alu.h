// The arithmetic of the VXM and SXM opcodes of isa.h on whole vectors: what one iteration
// computes from its input vectors, bit for bit. The functional simulator calls it; the compiler's
// constant folding and any reference model may call it too, so all agree by construction.
//
// A vector is `vector_bytes` bytes (320 on lpu-v1), viewed as lanes of its element type:
//   f32 / i32: vector_bytes / 4 lanes (80);  f16: vector_bytes / 2 (160);  i8: vector_bytes (320).
// Lanes are little-endian, lane l at byte offset l * lane bytes.
//
// Semantics beyond isa.h's one-line comments (the compiler must match these):
// - Every f32 operation rounds once, to nearest even (the build uses -ffp-contract=off, so
//   MulAdd is a multiply rounded to f32, then an add rounded to f32).
// - Max(a, b) = b > a ? b : a and Min(a, b) = b < a ? b : a: a NaN in in0 propagates, a NaN in
//   in1 yields in0; Max(+0, -0) = +0 and Max(-0, +0) = -0 (in0 wins ties).
// - Select tests in0 != 0 as f32: -0 selects in2, NaN selects in1. Equal compares as f32
//   (NaN never equal, +0 == -0).
// - Abs clears the sign bit (NaN payloads kept). Move copies the bytes.
// - Exp is std::exp(float); Rsqrt is 1.0f / std::sqrt(x) (two roundings); Div is IEEE division.
// - ConvertF32ToF16 rounds to nearest even (numerics/half.h), overflow to infinity.
// - ConvertF32ToI8 rounds half to even and saturates to the symmetric range [-127, 127]; NaN
//   becomes 0.
// - ConvertI32ToF32 rounds to nearest even.
// - Rotate: out.f32[l] = in0.f32[(l + imm) mod lanes], imm any integer (negative rotates the
//   other way). Distribute: imm must be a lane in [0, lanes).
#pragma once

#include <cstdint>
#include <span>

#include "lpu/arch/isa.h"

namespace lockstep::lpu {

// Computes one iteration of a VXM or SXM opcode. `in` holds opcode_info(opcode).stream_inputs
// vectors of `vector_bytes` bytes each; `out` receives one vector. `out` may not alias an input.
// Throws lockstep::Error for an opcode of another unit or an immediate outside its range.
void execute_vector_op(Opcode opcode, std::span<const std::uint8_t* const> in, std::uint8_t* out,
                       int vector_bytes, std::int32_t imm, float fimm);

// Whether `imm` is valid for `opcode` on vectors of `vector_bytes` (ConvertF16ToF32: 0 or 1;
// Distribute: a lane). Every other VXM/SXM opcode accepts any imm.
bool vector_op_immediate_is_valid(Opcode opcode, std::int32_t imm, int vector_bytes);

// The f32 -> i8 conversion of ConvertF32ToI8 for one lane.
std::int8_t convert_f32_to_i8(float x);

}  // namespace lockstep::lpu
