// AVX-512 attention vector kernels over an fp16 KV cache (vcvtph2ps widening, fp32 FMA).
// Tails (d not a multiple of 16) use masked loads and stores.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* placeholders inside the intrinsics as
// "(may be) used uninitialized"; a false positive.
#if defined(__GNUC__) && !defined(__clang__)  // GCC only: clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/vector_kernels_isa.h"

namespace lockstep::cpu {
namespace {

constexpr int kKeysInFlight = 4;  // dot: independent key rows (FMA chains) per pass
constexpr int kOutVectors = 8;    // weighted sum: up to 8 x 16 output floats in registers

inline __mmask16 tail_mask(std::int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

inline __m512 load_fp16(const std::uint16_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

template <int R>
inline void dot_keys(const float* q, const std::uint16_t* k, std::size_t k_stride, std::int64_t d,
                     float scale, float* scores) {
  __m512 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (std::int64_t i = 0; i < d; i += 16) {
    const __mmask16 m = tail_mask(d - i);
    const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(qv, load_fp16(k + r * k_stride + i, m), acc[r]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) scores[r] = scale * _mm512_reduce_add_ps(acc[r]);
}

// out[0 .. 16 * NV) (the last vector masked by `last`) = sum_j p[j] * v[j][...]. Two
// accumulator sets (even and odd j) halve the FMA dependency chains; summed at the end.
template <int NV>
void weighted_block(const float* p, const std::uint16_t* v, std::size_t v_stride,
                    std::int64_t n_rows, __mmask16 last, float* out) {
  __m512 even[NV], odd[NV];
#pragma GCC unroll 8
  for (int c = 0; c < NV; ++c) even[c] = odd[c] = _mm512_setzero_ps();
  std::int64_t j = 0;
  for (; j + 2 <= n_rows; j += 2) {
    const __m512 p0 = _mm512_set1_ps(p[j]), p1 = _mm512_set1_ps(p[j + 1]);
    const std::uint16_t* r0 = v + j * v_stride;
    const std::uint16_t* r1 = r0 + v_stride;
#pragma GCC unroll 8
    for (int c = 0; c < NV; ++c) {
      const __mmask16 m = c == NV - 1 ? last : static_cast<__mmask16>(0xffff);
      even[c] = _mm512_fmadd_ps(p0, load_fp16(r0 + 16 * c, m), even[c]);
      odd[c] = _mm512_fmadd_ps(p1, load_fp16(r1 + 16 * c, m), odd[c]);
    }
  }
  if (j < n_rows) {
    const __m512 p0 = _mm512_set1_ps(p[j]);
    const std::uint16_t* r0 = v + j * v_stride;
#pragma GCC unroll 8
    for (int c = 0; c < NV; ++c) {
      const __mmask16 m = c == NV - 1 ? last : static_cast<__mmask16>(0xffff);
      even[c] = _mm512_fmadd_ps(p0, load_fp16(r0 + 16 * c, m), even[c]);
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < NV; ++c) {
    const __mmask16 m = c == NV - 1 ? last : static_cast<__mmask16>(0xffff);
    _mm512_mask_storeu_ps(out + 16 * c, m, _mm512_add_ps(even[c], odd[c]));
  }
}

}  // namespace

void dot_fp16_rows_avx512(const float* q, const std::uint16_t* k, std::size_t k_stride,
                          std::int64_t d, std::int64_t n_keys, float scale, float* scores) {
  std::int64_t j = 0;
  for (; j + kKeysInFlight <= n_keys; j += kKeysInFlight)
    dot_keys<kKeysInFlight>(q, k + j * k_stride, k_stride, d, scale, scores + j);
  for (; j < n_keys; ++j) dot_keys<1>(q, k + j * k_stride, k_stride, d, scale, scores + j);
}

void weighted_sum_fp16_rows_avx512(const float* p, const std::uint16_t* v, std::size_t v_stride,
                                   std::int64_t d, std::int64_t n_rows, float* out) {
  for (std::int64_t i0 = 0; i0 < d; i0 += 16 * kOutVectors) {
    const std::int64_t len = d - i0 < 16 * kOutVectors ? d - i0 : 16 * kOutVectors;
    const int nv = static_cast<int>((len + 15) / 16);
    const __mmask16 last = tail_mask(len - 16 * (nv - 1));
    const std::uint16_t* vb = v + i0;
    float* ob = out + i0;
    switch (nv) {
      case 1: weighted_block<1>(p, vb, v_stride, n_rows, last, ob); break;
      case 2: weighted_block<2>(p, vb, v_stride, n_rows, last, ob); break;
      case 3: weighted_block<3>(p, vb, v_stride, n_rows, last, ob); break;
      case 4: weighted_block<4>(p, vb, v_stride, n_rows, last, ob); break;
      case 5: weighted_block<5>(p, vb, v_stride, n_rows, last, ob); break;
      case 6: weighted_block<6>(p, vb, v_stride, n_rows, last, ob); break;
      case 7: weighted_block<7>(p, vb, v_stride, n_rows, last, ob); break;
      default: weighted_block<8>(p, vb, v_stride, n_rows, last, ob); break;
    }
  }
}

void fp32_to_fp16_avx512(const float* x, std::uint16_t* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    _mm256_mask_storeu_epi16(out + i, m,
                             _mm512_cvtps_ph(xv, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __mmask16 nan = _mm512_mask_cmp_ps_mask(m, xv, xv, _CMP_UNORD_Q);
    while (nan != 0) {  // rare: NaN lanes follow numerics::fp32_to_fp16 exactly
      const int l = __builtin_ctz(nan);
      std::uint32_t bits;
      std::memcpy(&bits, x + i + l, 4);
      out[i + l] = fp16_nan_bits(bits);
      nan = static_cast<__mmask16>(nan & (nan - 1));
    }
  }
}

}  // namespace lockstep::cpu
