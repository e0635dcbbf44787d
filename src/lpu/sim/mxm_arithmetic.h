// The arithmetic of one MXM plane (isa.h InstallWeights / Compute / Emit), bit for bit.
//
// A plane's weight buffer holds `rows` weight vectors of vector_bytes bytes (lpu-v1: 320 x 320).
// InstallWeights copies the first `installed_rows` rows into the array; rows at and after it are
// zero. Compute multiplies the array by one input vector x and yields one accumulator row of
// `rows` 4-byte outputs:
//   I8:  out[r] = sum over k < vector_bytes     of int8 w[r][k] * int8 x[k], in int32;
//   F16: out[r] = sum over k < vector_bytes / 2 of (float) w[r][k] * (float) x[k], in f32.
// F16 order: the sum starts at +0.0f and adds the products in increasing k, each product exact
// in f32 (11 x 11 significant bits) and each addition rounded to f32. When accumulating, the
// block sum is computed from +0.0f as above and then added to the accumulator in one rounding:
//   acc[r] = acc[r] + out[r]   (so rows at and after installed_rows add +0.0f).
// I8 accumulation wraps modulo 2^32 (no saturation); one block cannot overflow
// (320 * 128 * 128 < 2^31).
// Emit: accumulator row viewed as vectors; vector j holds outputs [lanes * j, lanes * (j + 1))
// as 4-byte lanes, lanes = vector_bytes / 4. This is just the row's bytes in order.
#pragma once

#include <cstdint>
#include <vector>

#include "lpu/arch/isa.h"

namespace lockstep::lpu {

// One plane's installed array. install() is a copy of the buffer's rows (cheap: a program may
// install every 20 cycles); the first compute() after it widens and transposes the weights
// ([k][row] int32 or f32) so that every Compute is one plain loop over rows.
class MxmArray {
 public:
  // InstallWeights: keeps rows [0, installed_rows) of `buffer` ([rows][vector_bytes] bytes); the
  // rest are zero. type: I8 or F16, else lockstep::Error.
  void install(ElementType type, const std::uint8_t* buffer, int rows, int installed_rows,
               int vector_bytes);
  bool installed() const { return rows_ > 0; }
  ElementType type() const { return type_; }

  // One Compute: `acc` is one accumulator row, [rows] 4-byte lanes (int32 or f32 bits); x is one
  // input vector of vector_bytes bytes. accumulate: acc += block, else acc = block.
  // lockstep::Error if nothing is installed.
  void compute(const std::uint8_t* x, bool accumulate, std::uint8_t* acc);

 private:
  void prepare();

  ElementType type_ = ElementType::I8;
  int rows_ = 0;  // output rows (lpu-v1: 320); 0 = nothing installed
  int installed_rows_ = 0;
  int vector_bytes_ = 0;
  int depth_ = 0;                  // K: vector_bytes (I8) or vector_bytes / 2 (F16)
  std::vector<std::uint8_t> raw_;  // [installed_rows][vector_bytes] as installed
  bool prepared_ = false;
  std::vector<std::int32_t> i8_;  // [depth][rows] widened int8 weights, once prepared
  std::vector<float> f16_;        // [depth][rows] widened fp16 weights, once prepared
};

}  // namespace lockstep::lpu
