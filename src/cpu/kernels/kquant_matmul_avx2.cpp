// Q4_K / Q6_K kernels, AVX2 (vpmaddubsw: unsigned weights x signed activations -> int16 pairs,
// then vpmaddwd against the scales -> int32).
//
// Per output the sum is kept in one 8-lane fp32 vector. Per super-block the integer sums are
// exact; then, in super-block order, acc = fma(xd*d, sc-weighted sums, acc) (Q4_K: and
// acc = fma(-(xd*dmin), m-weighted bsums, acc)), and finally a fixed reduction tree. The same
// operations run per lane in every tile shape and tail, so y[t][o] does not depend on the row
// range, n or tiling.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/kernels/kquant_layout.h"

namespace lockstep::cpu::kernels::kquant {
namespace {

// Every loop over rows, tokens or the four 64-byte quarters of a super-block is fully unrolled
// (#pragma GCC unroll): at -O2 GCC would otherwise keep the register tiles in stack arrays.

inline float load_fp16(const std::uint8_t* p) {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline float reduce8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i load32(const std::uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

struct Ctx {
  const std::uint8_t* quants;  // [rows][nb][quant bytes]
  const std::uint8_t* meta;    // [rows][nb][meta bytes]
  std::int64_t nb;
  const std::uint8_t* x;
  std::size_t x_stride;
  float* y;
  std::size_t y_stride;
};

// The part of the packed matrix and the activations that one tile (rows [o, o + R), tokens
// [t0, t0 + T)) reads: its first row of quants and meta, its first activation row, and the
// byte strides and offsets to the others.
struct TileView {
  std::size_t qrow;        // bytes of quants per row
  std::size_t mrow;        // bytes of meta per row
  const std::uint8_t* wq;  // quants of row o
  const std::uint8_t* wm;  // meta of row o
  const std::uint8_t* xt;  // activation row of token t0
  std::size_t bs_off;      // offset of the int16 group sums in an activation row
  std::size_t d_off;       // offset of the fp32 scales in an activation row
};

template <std::size_t QuantBytes, std::size_t MetaBytes>
static inline __attribute__((always_inline)) TileView tile_view(const Ctx& c, std::int64_t o,
                                                                std::int64_t t0) {
  const std::int64_t nb = c.nb;
  const std::size_t qrow = static_cast<std::size_t>(nb) * QuantBytes;
  const std::size_t mrow = static_cast<std::size_t>(nb) * MetaBytes;
  return TileView{qrow,
                  mrow,
                  c.quants + static_cast<std::size_t>(o) * qrow,
                  c.meta + static_cast<std::size_t>(o) * mrow,
                  c.x + static_cast<std::size_t>(t0) * c.x_stride,
                  act_bsums_offset(nb),
                  act_d_offset(nb)};
}

// Every vector of a rows x tokens tile set to v.
template <int R, int T, class V>
static inline __attribute__((always_inline)) void fill_tile(V (&tile)[R][T], V v) {
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) tile[r][t] = v;
}

// Prefetch super-block b of the next block of R rows (every 64-byte line of its quants): one
// tile of work ahead of its use (R whole rows: 2.4 KB of Q4_K at cols 2048 and R = 2).
template <int R, std::size_t QuantBytes>
static inline __attribute__((always_inline)) void prefetch_next_rows(
    const std::uint8_t* wq, std::size_t qrow, std::int64_t b) {
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const std::uint8_t* p = wq + (R + r) * qrow + b * QuantBytes;
    #pragma GCC unroll 4
    for (std::size_t line = 0; line < QuantBytes; line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(p + line), _MM_HINT_T0);
  }
}

// The first 16 meta bytes (Q4_K: sc, m; Q6_K: sc) of super-block b of rows o .. o + R - 1.
template <int R, std::size_t MetaBytes>
static inline __attribute__((always_inline)) void load_meta16(
    __m128i (&sm)[R], const std::uint8_t* wm, std::size_t mrow, std::int64_t b) {
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    sm[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wm + r * mrow + b * MetaBytes));
}

// Activation bytes [64k + 32h, 64k + 32h + 32) of super-block b of tokens t0 .. t0 + T - 1.
template <int T>
static inline __attribute__((always_inline)) void load_activations(
    __m256i (&a)[T], const std::uint8_t* xt, std::size_t x_stride, std::int64_t b, int k, int h) {
  #pragma GCC unroll 8
  for (int t = 0; t < T; ++t) a[t] = load32(xt + t * x_stride + b * 256 + 64 * k + 32 * h);
}

// y[t0 + t][o + r] = the fixed reduction of acc[r][t].
template <int R, int T>
static inline __attribute__((always_inline)) void store_tile(
    const Ctx& c, std::int64_t o, std::int64_t t0, __m256 (&acc)[R][T]) {
  #pragma GCC unroll 8
  for (int t = 0; t < T; ++t)
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      c.y[static_cast<std::size_t>(t0 + t) * c.y_stride + static_cast<std::size_t>(o + r)] =
          reduce8(acc[r][t]);
}

template <int R, int T>
void q4k_tile(const Ctx& c, std::int64_t o, std::int64_t t0) {
  const std::int64_t nb = c.nb;
  const auto [qrow, mrow, wq, wm, xt, bs_off, d_off] =
      tile_view<kQ4QuantBytes, kQ4MetaBytes>(c, o, t0);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  // int16 lane i of half h (group 8h + i/2) takes the scale of sub-block (8h + i/2) / 2.
  const __m128i dup_sc[2] = {_mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                             _mm_setr_epi8(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7)};
  const __m128i dup_m = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  __m256 acc[R][T];
  fill_tile(acc, _mm256_setzero_ps());

  for (std::int64_t b = 0; b < nb; ++b) {
    prefetch_next_rows<R, kQ4QuantBytes>(wq, qrow, b);
    __m128i sm[R];
    load_meta16<R, kQ4MetaBytes>(sm, wm, mrow, b);
    __m256i i32[R][T];
    fill_tile(i32, _mm256_setzero_si256());
    #pragma GCC unroll 8
    for (int h = 0; h < 2; ++h) {
      __m256i i16[R][T];
      fill_tile(i16, _mm256_setzero_si256());
      #pragma GCC unroll 8
      for (int k = 0; k < 4; ++k) {
        __m256i a[T];
        load_activations(a, xt, c.x_stride, b, k, h);
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m256i raw = load32(wq + r * qrow + b * kQ4QuantBytes + (k / 2) * 64 + 32 * h);
          const __m256i w = k % 2 == 0 ? _mm256_and_si256(raw, m4)
                                       : _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
          // |sum of 4 maddubs| <= 8 * 15 * 127 < 2^15.
          #pragma GCC unroll 8
          for (int t = 0; t < T; ++t)
            i16[r][t] = _mm256_add_epi16(i16[r][t], _mm256_maddubs_epi16(w, a[t]));
        }
      }
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i sc = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(sm[r], dup_sc[h]));
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t)
          i32[r][t] = _mm256_add_epi32(i32[r][t], _mm256_madd_epi16(i16[r][t], sc));
      }
    }
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const std::uint8_t* xr = xt + t * c.x_stride;
      const __m256i bs = load32(xr + bs_off + b * 32);  // [16] int16 group sums
      float xd;
      std::memcpy(&xd, xr + d_off + b * 4, 4);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i mn = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(sm[r], dup_m));
        const std::uint8_t* m = wm + r * mrow + b * kQ4MetaBytes;
        const float d = load_fp16(m + 16);
        const float dmin = load_fp16(m + 18);
        const __m256 v1 = _mm256_cvtepi32_ps(i32[r][t]);
        const __m256 v2 = _mm256_cvtepi32_ps(_mm256_madd_epi16(bs, mn));
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * d), v1, acc[r][t]);
        acc[r][t] = _mm256_fnmadd_ps(_mm256_set1_ps(xd * dmin), v2, acc[r][t]);
      }
    }
  }
  store_tile(c, o, t0, acc);
}

template <int R, int T>
void q6k_tile(const Ctx& c, std::int64_t o, std::int64_t t0) {
  const std::int64_t nb = c.nb;
  const auto [qrow, mrow, wq, wm, xt, bs_off, d_off] =
      tile_view<kQ6QuantBytes, kQ6MetaBytes>(c, o, t0);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m30 = _mm256_set1_epi8(0x30);
  // int16 lane i of half h belongs to group 8h + i/2.
  const __m128i dup_sc[2] = {_mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
                             _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15)};
  __m256 acc[R][T];
  fill_tile(acc, _mm256_setzero_ps());

  for (std::int64_t b = 0; b < nb; ++b) {
    prefetch_next_rows<R, kQ6QuantBytes>(wq, qrow, b);
    __m128i sm[R];
    load_meta16<R, kQ6MetaBytes>(sm, wm, mrow, b);
    __m256i i32[R][T];
    fill_tile(i32, _mm256_setzero_si256());
    #pragma GCC unroll 8
    for (int h = 0; h < 2; ++h) {
      __m256i sc[R], hi[R];
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        sc[r] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sm[r], dup_sc[h]));
        hi[r] = load32(wq + r * qrow + b * kQ6QuantBytes + 128 + 32 * h);
      }
      #pragma GCC unroll 8
      for (int k = 0; k < 4; ++k) {
        __m256i a[T];
        load_activations(a, xt, c.x_stride, b, k, h);
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m256i raw = load32(wq + r * qrow + b * kQ6QuantBytes + (k / 2) * 64 + 32 * h);
          const __m256i lo = k % 2 == 0 ? _mm256_and_si256(raw, m4)
                                        : _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
          __m256i hk;
          if (k == 0) hk = _mm256_slli_epi16(hi[r], 4);
          else if (k == 1) hk = _mm256_slli_epi16(hi[r], 2);
          else if (k == 2) hk = hi[r];
          else hk = _mm256_srli_epi16(hi[r], 2);
          const __m256i w = _mm256_or_si256(lo, _mm256_and_si256(hk, m30));
          // maddubs pairs: |.| <= 2 * 63 * 127 < 2^15; then * sc per group, in int32.
          #pragma GCC unroll 8
          for (int t = 0; t < T; ++t)
            i32[r][t] = _mm256_add_epi32(
                i32[r][t], _mm256_madd_epi16(_mm256_maddubs_epi16(w, a[t]), sc[r]));
        }
      }
    }
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const std::uint8_t* xr = xt + t * c.x_stride;
      const __m256i bs = load32(xr + bs_off + b * 32);  // [16] int16 group sums
      float xd;
      std::memcpy(&xd, xr + d_off + b * 4, 4);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i scn = _mm256_cvtepi8_epi16(sm[r]);  // [16] scales, natural groups
        const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(bs, scn), 5);
        const float d = load_fp16(wm + r * mrow + b * kQ6MetaBytes + 16);
        const __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(i32[r][t], off));
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * d), v, acc[r][t]);
      }
    }
  }
  store_tile(c, o, t0, acc);
}

template <int R, int T>
struct Q4Tile {
  static void run(const Ctx& c, std::int64_t o, std::int64_t t0) { q4k_tile<R, T>(c, o, t0); }
};
template <int R, int T>
struct Q6Tile {
  static void run(const Ctx& c, std::int64_t o, std::int64_t t0) { q6k_tile<R, T>(c, o, t0); }
};

template <int R, int T, template <int, int> class Tile>
void rows_loop(const Ctx& c, std::int64_t row_begin, std::int64_t row_end, std::int64_t t0) {
  std::int64_t o = row_begin;
  for (; o + R <= row_end; o += R) Tile<R, T>::run(c, o, t0);
  for (; o < row_end; ++o) Tile<1, T>::run(c, o, t0);
}

// 16 registers: prefill tiles 2 rows x 2 tokens (4 fp32 + 4 int32 + 4 int16 accumulators),
// decode 2 rows in flight; rows in chunks of 64 (packed bytes in L2).
template <template <int, int> class Tile>
void run(const Ctx& c, std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
  constexpr std::int64_t kRowChunk = 64;
  for (std::int64_t r0 = row_begin; r0 < row_end; r0 += kRowChunk) {
    const std::int64_t r1 = r0 + kRowChunk < row_end ? r0 + kRowChunk : row_end;
    std::int64_t t = 0;
    for (; t + 2 <= n; t += 2) rows_loop<2, 2, Tile>(c, r0, r1, t);
    for (; t < n; ++t) rows_loop<2, 1, Tile>(c, r0, r1, t);
  }
}

}  // namespace

void matmul_q4k_avx2(const std::uint8_t* data, std::int64_t rows, std::int64_t cols,
                     const std::uint8_t* x, std::size_t x_stride, float* y, std::size_t y_stride,
                     std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  const Ctx c{data, data + static_cast<std::size_t>(rows * nb) * kQ4QuantBytes, nb, x, x_stride,
              y, y_stride};
  run<Q4Tile>(c, n, row_begin, row_end);
}

void matmul_q6k_avx2(const std::uint8_t* data, std::int64_t rows, std::int64_t cols,
                     const std::uint8_t* x, std::size_t x_stride, float* y, std::size_t y_stride,
                     std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  const Ctx c{data, data + static_cast<std::size_t>(rows * nb) * kQ6QuantBytes, nb, x, x_stride,
              y, y_stride};
  run<Q6Tile>(c, n, row_begin, row_end);
}

}  // namespace lockstep::cpu::kernels::kquant
