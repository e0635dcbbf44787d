// The per-ISA entry points behind vector_kernels.h (the same signatures as the VectorKernels
// members), declared with plain C types so the *_avx2.cpp / *_avx512.cpp files need no STL header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lockstep::cpu {

#define LOCKSTEP_VECTOR_KERNELS(suffix)                                                         \
  void dot_fp16_rows_##suffix(const float* q, const std::uint16_t* k, std::size_t k_stride,    \
                              std::int64_t d, std::int64_t n_keys, float scale, float* scores); \
  void weighted_sum_fp16_rows_##suffix(const float* p, const std::uint16_t* v,                 \
                                       std::size_t v_stride, std::int64_t d,                   \
                                       std::int64_t n_rows, float* out);                       \
  void fp32_to_fp16_##suffix(const float* x, std::uint16_t* out, std::int64_t n);

LOCKSTEP_VECTOR_KERNELS(portable)
LOCKSTEP_VECTOR_KERNELS(avx2)
LOCKSTEP_VECTOR_KERNELS(avx512)

#undef LOCKSTEP_VECTOR_KERNELS

// numerics::fp32_to_fp16 for a NaN (the SIMD paths use the hardware conversion for every other
// value and this for NaN lanes, where F16C would set the quiet bit of a signalling NaN).
inline std::uint16_t fp16_nan_bits(std::uint32_t x) {
  std::uint32_t payload = (x >> 13) & 0x3ffu;
  if (payload == 0) payload = 0x200u;
  return static_cast<std::uint16_t>(((x >> 16) & 0x8000u) | 0x7c00u | payload);
}

}  // namespace lockstep::cpu
