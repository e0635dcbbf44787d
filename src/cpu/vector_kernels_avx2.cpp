// AVX2 (+FMA, F16C) attention vector kernels over an fp16 KV cache. Tails (d not a multiple
// of 8) go through a zero-padded 8-element stack copy, so every element is summed the same way.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/vector_kernels_isa.h"

namespace lockstep::cpu {
namespace {

constexpr int kKeysInFlight = 4;  // dot: independent key rows per pass
constexpr int kOutVectors = 4;    // weighted sum: 4 x 8 floats x 2 (even/odd rows) = 8 ymm

inline __m256 load_fp16(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Eight fp16 values from p[0 .. len), len <= 8, zero-filled.
inline __m256 load_fp16_tail(const std::uint16_t* p, std::int64_t len) {
  std::uint16_t buf[8] = {};
  std::memcpy(buf, p, static_cast<std::size_t>(len) * 2);
  return load_fp16(buf);
}

inline __m256 load_fp32_tail(const float* p, std::int64_t len) {
  float buf[8] = {};
  std::memcpy(buf, p, static_cast<std::size_t>(len) * 4);
  return _mm256_loadu_ps(buf);
}

inline float reduce8(__m256 s) {
  const __m128 u = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));
  return _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 1)));
}

template <int R>
inline void dot_keys(const float* q, const std::uint16_t* k, std::size_t k_stride, std::int64_t d,
                     float scale, float* scores) {
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 8 <= d; i += 8) {
    const __m256 qv = _mm256_loadu_ps(q + i);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(qv, load_fp16(k + r * k_stride + i), acc[r]);
  }
  if (i < d) {
    const __m256 qv = load_fp32_tail(q + i, d - i);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(qv, load_fp16_tail(k + r * k_stride + i, d - i), acc[r]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) scores[r] = scale * reduce8(acc[r]);
}

// out[0 .. 8 * NV) = sum_j p[j] * v[j][...], full vectors only.
template <int NV>
void weighted_block(const float* p, const std::uint16_t* v, std::size_t v_stride,
                    std::int64_t n_rows, float* out) {
  __m256 even[NV], odd[NV];
#pragma GCC unroll 8
  for (int c = 0; c < NV; ++c) even[c] = odd[c] = _mm256_setzero_ps();
  std::int64_t j = 0;
  for (; j + 2 <= n_rows; j += 2) {
    const __m256 p0 = _mm256_set1_ps(p[j]), p1 = _mm256_set1_ps(p[j + 1]);
    const std::uint16_t* r0 = v + j * v_stride;
    const std::uint16_t* r1 = r0 + v_stride;
#pragma GCC unroll 8
    for (int c = 0; c < NV; ++c) {
      even[c] = _mm256_fmadd_ps(p0, load_fp16(r0 + 8 * c), even[c]);
      odd[c] = _mm256_fmadd_ps(p1, load_fp16(r1 + 8 * c), odd[c]);
    }
  }
  if (j < n_rows) {
    const __m256 p0 = _mm256_set1_ps(p[j]);
    const std::uint16_t* r0 = v + j * v_stride;
#pragma GCC unroll 8
    for (int c = 0; c < NV; ++c) even[c] = _mm256_fmadd_ps(p0, load_fp16(r0 + 8 * c), even[c]);
  }
#pragma GCC unroll 8
  for (int c = 0; c < NV; ++c) _mm256_storeu_ps(out + 8 * c, _mm256_add_ps(even[c], odd[c]));
}

// The last len < 8 outputs, through zero-padded copies.
void weighted_tail(const float* p, const std::uint16_t* v, std::size_t v_stride,
                   std::int64_t n_rows, std::int64_t len, float* out) {
  __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
  std::int64_t j = 0;
  for (; j + 2 <= n_rows; j += 2) {
    even = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), load_fp16_tail(v + j * v_stride, len), even);
    odd = _mm256_fmadd_ps(_mm256_set1_ps(p[j + 1]), load_fp16_tail(v + (j + 1) * v_stride, len),
                          odd);
  }
  if (j < n_rows)
    even = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), load_fp16_tail(v + j * v_stride, len), even);
  float buf[8];
  _mm256_storeu_ps(buf, _mm256_add_ps(even, odd));
  std::memcpy(out, buf, static_cast<std::size_t>(len) * 4);
}

inline void convert8(const float* x, std::uint16_t* out) {
  const __m256 xv = _mm256_loadu_ps(x);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   _mm256_cvtps_ph(xv, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  int nan = _mm256_movemask_ps(_mm256_cmp_ps(xv, xv, _CMP_UNORD_Q));
  while (nan != 0) {  // rare: NaN lanes follow numerics::fp32_to_fp16 exactly
    const int l = __builtin_ctz(static_cast<unsigned>(nan));
    std::uint32_t bits;
    std::memcpy(&bits, x + l, 4);
    out[l] = fp16_nan_bits(bits);
    nan &= nan - 1;
  }
}

}  // namespace

void dot_fp16_rows_avx2(const float* q, const std::uint16_t* k, std::size_t k_stride,
                        std::int64_t d, std::int64_t n_keys, float scale, float* scores) {
  std::int64_t j = 0;
  for (; j + kKeysInFlight <= n_keys; j += kKeysInFlight)
    dot_keys<kKeysInFlight>(q, k + j * k_stride, k_stride, d, scale, scores + j);
  for (; j < n_keys; ++j) dot_keys<1>(q, k + j * k_stride, k_stride, d, scale, scores + j);
}

void weighted_sum_fp16_rows_avx2(const float* p, const std::uint16_t* v, std::size_t v_stride,
                                 std::int64_t d, std::int64_t n_rows, float* out) {
  std::int64_t i0 = 0;
  for (; i0 + 8 * kOutVectors <= d; i0 += 8 * kOutVectors)
    weighted_block<kOutVectors>(p, v + i0, v_stride, n_rows, out + i0);
  for (; i0 + 8 <= d; i0 += 8) weighted_block<1>(p, v + i0, v_stride, n_rows, out + i0);
  if (i0 < d) weighted_tail(p, v + i0, v_stride, n_rows, d - i0, out + i0);
}

void fp32_to_fp16_avx2(const float* x, std::uint16_t* out, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) convert8(x + i, out + i);
  if (i < n) {
    float xb[8] = {};
    std::uint16_t ob[8];
    std::memcpy(xb, x + i, static_cast<std::size_t>(n - i) * 4);
    convert8(xb, ob);
    std::memcpy(out + i, ob, static_cast<std::size_t>(n - i) * 2);
  }
}

}  // namespace lockstep::cpu
