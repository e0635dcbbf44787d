// Portable float matmul: the summation order of float_matmul_isa.h written out with std::fma,
// 16 lanes per output, so it gives the same bits as the AVX2 and AVX-512 kernels.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/kernels/float_matmul_isa.h"
#include "numerics/half.h"

namespace lockstep::cpu::kernels {
namespace {

float weight_at(FloatWeight type, const std::uint8_t* row, std::int64_t k) {
  switch (type) {
    case FloatWeight::F32: {
      float v;
      std::memcpy(&v, row + 4 * k, 4);
      return v;
    }
    case FloatWeight::F16: {
      std::uint16_t h;
      std::memcpy(&h, row + 2 * k, 2);
      return numerics::fp16_to_fp32(h);
    }
    case FloatWeight::BF16: {
      std::uint16_t h;
      std::memcpy(&h, row + 2 * k, 2);
      return numerics::bf16_to_fp32(h);
    }
  }
  return 0.0f;
}

float reduce16(const float* s) {
  float t[8], u[4];
  for (int l = 0; l < 8; ++l) t[l] = s[l] + s[l + 8];
  for (int l = 0; l < 4; ++l) u[l] = t[l] + t[l + 4];
  const float v0 = u[0] + u[2], v1 = u[1] + u[3];
  return v0 + v1;
}

}  // namespace

void float_matmul_portable(FloatWeight type, const std::uint8_t* w, std::size_t w_row_bytes,
                           std::int64_t cols, const std::uint8_t* x, std::size_t x_stride,
                           float* y, std::size_t y_stride, std::int64_t n,
                           std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t k16 = (cols + 15) / 16 * 16;
  for (std::int64_t t = 0; t < n; ++t) {
    const auto* xt = reinterpret_cast<const float*>(x + t * x_stride);
    for (std::int64_t o = row_begin; o < row_end; ++o) {
      const std::uint8_t* row = w + o * w_row_bytes;
      float acc[16] = {};
      for (std::int64_t k = 0; k < k16; k += 16)
        for (int l = 0; l < 16; ++l) acc[l] = std::fma(weight_at(type, row, k + l), xt[k + l], acc[l]);
      y[t * y_stride + o] = reduce16(acc);
    }
  }
}

}  // namespace lockstep::cpu::kernels
