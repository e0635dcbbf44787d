// Q4_K / Q6_K kernels, AVX-512 with VNNI (vpdpbusd: unsigned weights x signed activations).
//
// Per output (row o, token t) the sum is kept in one 16-lane fp32 vector, lane l = group l of
// every super-block (lane order, kquant_layout.h). Per super-block the integer group sums are
// exact; then, in super-block order, acc = fma(xd*d, sc-weighted sums, acc) (Q4_K: and
// acc = fma(-(xd*dmin), m-weighted bsums, acc)), and finally _mm512_reduce_add_ps. The same
// operations run per lane in every tile shape (rows x tokens) and tail, so y[t][o] does not
// depend on the row range, n or tiling.
// GCC 12's AVX-512 headers trip -W(maybe-)uninitialized on their own "__Y = __Y" placeholders
// once inlined into big templates; the warnings are about the headers, not this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // GCC only: clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
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

// iacc[r][t] += vpdpbusd of super-block b of row o + r with token t0 + t (lane l = group l).
// weights(r, k, lo) makes the unsigned weight bytes of quarter k of row r from lo, their low
// 4 bits (k is a constant once the loops are unrolled).
template <int R, int T, std::size_t QuantBytes, class Weights>
static inline __attribute__((always_inline)) void dot_block(
    __m512i (&iacc)[R][T], const std::uint8_t* wq, std::size_t qrow, const std::uint8_t* xt,
    std::size_t x_stride, std::int64_t b, Weights weights) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  #pragma GCC unroll 8
  for (int h = 0; h < 2; ++h) {
    __m512i raw[R];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      raw[r] = _mm512_load_si512(wq + r * qrow + b * QuantBytes + 64 * h);
    #pragma GCC unroll 8
    for (int k2 = 0; k2 < 2; ++k2) {
      const int k = 2 * h + k2;
      __m512i a[T];
      #pragma GCC unroll 8
      for (int t = 0; t < T; ++t)
        a[t] = _mm512_load_si512(xt + t * x_stride + b * 256 + 64 * k);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512i lo = k2 == 0 ? _mm512_and_si512(raw[r], m4)
                                   : _mm512_and_si512(_mm512_srli_epi16(raw[r], 4), m4);
        const __m512i w = weights(r, k, lo);
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) iacc[r][t] = _mm512_dpbusd_epi32(iacc[r][t], w, a[t]);
      }
    }
  }
}

// y[t0 + t][o + r] = the fixed reduction of acc[r][t].
template <int R, int T>
static inline __attribute__((always_inline)) void store_tile(
    const Ctx& c, std::int64_t o, std::int64_t t0, __m512 (&acc)[R][T]) {
  #pragma GCC unroll 8
  for (int t = 0; t < T; ++t)
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      c.y[static_cast<std::size_t>(t0 + t) * c.y_stride + static_cast<std::size_t>(o + r)] =
          _mm512_reduce_add_ps(acc[r][t]);
}

// Rows [o, o + R) x tokens [t0, t0 + T).
template <int R, int T>
void q4k_tile(const Ctx& c, std::int64_t o, std::int64_t t0) {
  const std::int64_t nb = c.nb;
  const auto [qrow, mrow, wq, wm, xt, bs_off, d_off] =
      tile_view<kQ4QuantBytes, kQ4MetaBytes>(c, o, t0);
  // Group l takes scale / min of sub-block l / 2.
  const __m128i dup_sc = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m128i dup_m = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  __m512 acc[R][T];
  fill_tile(acc, _mm512_setzero_ps());

  for (std::int64_t b = 0; b < nb; ++b) {
    __m512i iacc[R][T];
    fill_tile(iacc, _mm512_setzero_si512());
    prefetch_next_rows<R, kQ4QuantBytes>(wq, qrow, b);
    dot_block<R, T, kQ4QuantBytes>(iacc, wq, qrow, xt, c.x_stride, b,
                                   [](int, int, __m512i lo) { return lo; });
    __m512i sc[R], mn[R];
    float d[R], dmin[R];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const std::uint8_t* m = wm + r * mrow + b * kQ4MetaBytes;
      const __m128i sm = _mm_loadu_si128(reinterpret_cast<const __m128i*>(m));
      sc[r] = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(sm, dup_sc));
      mn[r] = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(sm, dup_m));
      d[r] = load_fp16(m + 16);
      dmin[r] = load_fp16(m + 18);
    }
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const std::uint8_t* xr = xt + t * c.x_stride;
      // Group sums of q fit 16 bits; sign-extended, the high halves are 0 or -1 and meet the
      // zero high halves of mn in vpmaddwd.
      const __m512i bs = _mm512_cvtepi16_epi32(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + bs_off + b * 32)));
      float xd;
      std::memcpy(&xd, xr + d_off + b * 4, 4);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        // |iacc| <= 16 * 15 * 127 < 2^15: vpmaddwd with (sc, 0) pairs is an exact multiply.
        const __m512 v1 = _mm512_cvtepi32_ps(_mm512_madd_epi16(iacc[r][t], sc[r]));
        const __m512 v2 = _mm512_cvtepi32_ps(_mm512_madd_epi16(bs, mn[r]));
        acc[r][t] = _mm512_fmadd_ps(_mm512_set1_ps(xd * d[r]), v1, acc[r][t]);
        acc[r][t] = _mm512_fnmadd_ps(_mm512_set1_ps(xd * dmin[r]), v2, acc[r][t]);
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
  const __m512i m30 = _mm512_set1_epi8(0x30);
  __m512 acc[R][T];
  fill_tile(acc, _mm512_setzero_ps());

  for (std::int64_t b = 0; b < nb; ++b) {
    __m512i iacc[R][T];
    fill_tile(iacc, _mm512_setzero_si512());
    prefetch_next_rows<R, kQ6QuantBytes>(wq, qrow, b);
    __m512i hi[R];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) hi[r] = _mm512_load_si512(wq + r * qrow + b * kQ6QuantBytes + 128);
    dot_block<R, T, kQ6QuantBytes>(
        iacc, wq, qrow, xt, c.x_stride, b,
        [&](int r, int k, __m512i lo) __attribute__((always_inline)) {
          // Bits 2k..2k+1 of the high byte moved to bits 4..5.
          __m512i hk;
          if (k == 0) hk = _mm512_slli_epi16(hi[r], 4);
          else if (k == 1) hk = _mm512_slli_epi16(hi[r], 2);
          else if (k == 2) hk = hi[r];
          else hk = _mm512_srli_epi16(hi[r], 2);
          return _mm512_ternarylogic_epi32(lo, hk, m30, 0xF8);  // lo | (hk & m30)
        });
    __m512i sc[R];
    float d[R];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const std::uint8_t* m = wm + r * mrow + b * kQ6MetaBytes;
      sc[r] = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m)));
      d[r] = load_fp16(m + 16);
    }
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const std::uint8_t* xr = xt + t * c.x_stride;
      const __m512i bs32 = _mm512_slli_epi32(
          _mm512_cvtepi16_epi32(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + bs_off + b * 32))),
          5);
      float xd;
      std::memcpy(&xd, xr + d_off + b * 4, 4);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        // sc * (q.a - 32 * bsum) per group: |.| < 2^25, exact in int32.
        const __m512i v = _mm512_mullo_epi32(_mm512_sub_epi32(iacc[r][t], bs32), sc[r]);
        acc[r][t] = _mm512_fmadd_ps(_mm512_set1_ps(xd * d[r]), _mm512_cvtepi32_ps(v), acc[r][t]);
      }
    }
  }
  store_tile(c, o, t0, acc);
}

// Rows [row_begin, row_end) x tokens [t0, t0 + T): blocks of R rows, then single rows.
template <int R, int T, template <int, int> class Tile>
void rows_loop(const Ctx& c, std::int64_t row_begin, std::int64_t row_end, std::int64_t t0) {
  std::int64_t o = row_begin;
  for (; o + R <= row_end; o += R) Tile<R, T>::run(c, o, t0);
  for (; o < row_end; ++o) Tile<1, T>::run(c, o, t0);
}

template <int R, int T>
struct Q4Tile {
  static void run(const Ctx& c, std::int64_t o, std::int64_t t0) { q4k_tile<R, T>(c, o, t0); }
};
template <int R, int T>
struct Q6Tile {
  static void run(const Ctx& c, std::int64_t o, std::int64_t t0) { q6k_tile<R, T>(c, o, t0); }
};

// Prefill: rows in chunks whose packed bytes stay in L2 (64 rows x 2048 cols ~ 76 KB of Q4_K),
// tokens in blocks of 4 (activations of 4 tokens ~ 9 KB stay in L1), 2 rows x 4 tokens
// register tile (8 accumulators + 8 integer sums + 4 activations + 2 weights of 32 registers).
// Decode (n < 4): 2 rows in flight per token (measured: 2 streams kept ~12.7-13 GB/s on Q4_K
// at 2048 x 2048, 4 streams ~11, 1 stream ~11.7, plain AVX-512 read ~15 on the same machine).
template <template <int, int> class Tile>
void run(const Ctx& c, std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
  constexpr std::int64_t kRowChunk = 64;
  for (std::int64_t r0 = row_begin; r0 < row_end; r0 += kRowChunk) {
    const std::int64_t r1 = r0 + kRowChunk < row_end ? r0 + kRowChunk : row_end;
    std::int64_t t = 0;
    for (; t + 4 <= n; t += 4) rows_loop<2, 4, Tile>(c, r0, r1, t);
    for (; t < n; ++t) rows_loop<2, 1, Tile>(c, r0, r1, t);
  }
}

}  // namespace

void matmul_q4k_avx512(const std::uint8_t* data, std::int64_t rows, std::int64_t cols,
                       const std::uint8_t* x, std::size_t x_stride, float* y,
                       std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                       std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  const Ctx c{data, data + static_cast<std::size_t>(rows * nb) * kQ4QuantBytes, nb, x, x_stride,
              y, y_stride};
  run<Q4Tile>(c, n, row_begin, row_end);
}

void matmul_q6k_avx512(const std::uint8_t* data, std::int64_t rows, std::int64_t cols,
                       const std::uint8_t* x, std::size_t x_stride, float* y,
                       std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                       std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  const Ctx c{data, data + static_cast<std::size_t>(rows * nb) * kQ6QuantBytes, nb, x, x_stride,
              y, y_stride};
  run<Q6Tile>(c, n, row_begin, row_end);
}

}  // namespace lockstep::cpu::kernels::kquant
