// AVX2 (+FMA, F16C) float matmul. Same structure and summation order as the AVX-512 kernel
// (float_matmul_isa.h): an output's 16 lanes are two ymm accumulators, lanes 0-7 and 8-15.
// Decode streams kRowsInFlight rows; prefill tiles 2 rows x 3 tokens (12 ymm accumulators)
// over weights widened to fp32 in a stack chunk.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "cpu/kernels/float_matmul_isa.h"

namespace lockstep::cpu::kernels {
namespace {

constexpr int kRowsInFlight = 4;      // decode: 4 rows = 8 ymm accumulators
constexpr int kTileRows = 2;          // prefill tile: 2 rows x 3 tokens x 2 halves = 12 ymm
constexpr int kTileTokens = 3;
constexpr std::int64_t kChunk = 512;  // k-chunk of widened weights (2 x 512 fp32 = 4 KiB)
constexpr int kTokenBlock = 24;

struct V16 {
  __m256 lo, hi;
};

template <FloatWeight W>
inline __m256 load8(const std::uint8_t* row, std::int64_t k) {
  if constexpr (W == FloatWeight::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (W == FloatWeight::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

inline float reduce16(V16 s) {
  const __m256 t = _mm256_add_ps(s.lo, s.hi);
  const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));
  return _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 1)));
}

template <FloatWeight W, int R>
inline void rows_times_vector(const std::uint8_t* w, std::size_t w_row_bytes, const float* x,
                              std::int64_t k16, float* y) {
  V16 acc[R];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (std::int64_t k = 0; k < k16; k += 16) {
    const __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      acc[r].lo = _mm256_fmadd_ps(load8<W>(w + r * w_row_bytes, k), x0, acc[r].lo);
      acc[r].hi = _mm256_fmadd_ps(load8<W>(w + r * w_row_bytes, k + 8), x1, acc[r].hi);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) y[r] = reduce16(acc[r]);
}

template <FloatWeight W>
void matmul_decode(const std::uint8_t* w, std::size_t w_row_bytes, std::int64_t k16,
                   const float* x, float* y, std::int64_t row_begin, std::int64_t row_end) {
  std::int64_t o = row_begin;
  for (; o + kRowsInFlight <= row_end; o += kRowsInFlight)
    rows_times_vector<W, kRowsInFlight>(w + o * w_row_bytes, w_row_bytes, x, k16, y + o);
  for (; o < row_end; ++o) rows_times_vector<W, 1>(w + o * w_row_bytes, w_row_bytes, x, k16, y + o);
}

// As the AVX-512 tile: acc_buf [T][R][16] fp32 partial sums between k-chunks.
template <int R, int T>
void tile(const float* w, std::size_t w_stride, const float* x, std::size_t x_stride,
          std::int64_t klen, float* acc_buf, bool first, float* y, std::size_t y_stride) {
  V16 acc[R][T];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const float* a = acc_buf + (t * R + r) * 16;
      acc[r][t] = first ? V16{_mm256_setzero_ps(), _mm256_setzero_ps()}
                        : V16{_mm256_load_ps(a), _mm256_load_ps(a + 8)};
    }
  for (std::int64_t k = 0; k < klen; k += 16) {
    #pragma GCC unroll 8
    for (int h = 0; h < 2; ++h) {
      __m256 xv[T];
      #pragma GCC unroll 8
      for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(x + t * x_stride + k + 8 * h);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m256 wv = _mm256_load_ps(w + r * w_stride + k + 8 * h);
        __asm__("" : "+x"(wv));  // one load per weight vector, not one per FMA
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          __m256& a = h == 0 ? acc[r][t].lo : acc[r][t].hi;
          a = _mm256_fmadd_ps(wv, xv[t], a);
        }
      }
    }
  }
  if (y != nullptr) {
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) y[t * y_stride + r] = reduce16(acc[r][t]);
  } else {
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        float* a = acc_buf + (t * R + r) * 16;
        _mm256_store_ps(a, acc[r][t].lo);
        _mm256_store_ps(a + 8, acc[r][t].hi);
      }
  }
}

using TileFn = void (*)(const float*, std::size_t, const float*, std::size_t, std::int64_t,
                        float*, bool, float*, std::size_t);

template <int R>
TileFn tile_for_tokens(int t) {
  switch (t) {
    case 1: return &tile<R, 1>;
    case 2: return &tile<R, 2>;
    default: return &tile<R, 3>;
  }
}

TileFn tile_for(int r, int t) { return r == 1 ? tile_for_tokens<1>(t) : tile_for_tokens<2>(t); }

template <FloatWeight W>
void widen_chunk(const std::uint8_t* w, std::size_t w_row_bytes, int rows, std::int64_t k0,
                 std::int64_t klen, float* out /* [rows][kChunk] fp32 */) {
  for (int r = 0; r < rows; ++r)
    for (std::int64_t k = 0; k < klen; k += 8)
      _mm256_store_ps(out + r * kChunk + k, load8<W>(w + r * w_row_bytes, k0 + k));
}

template <FloatWeight W>
void matmul_prefill(const std::uint8_t* w, std::size_t w_row_bytes, std::int64_t k16,
                    const float* x, std::size_t x_stride, float* y, std::size_t y_stride,
                    std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
  alignas(64) float wide[kTileRows * kChunk];               // [kTileRows][kChunk] fp32
  alignas(64) float partial[kTokenBlock * kTileRows * 16];  // [token][row][16] fp32 sums
  for (std::int64_t o = row_begin; o < row_end; o += kTileRows) {
    const int rows = static_cast<int>(row_end - o < kTileRows ? row_end - o : kTileRows);
    const std::uint8_t* wrows = w + o * w_row_bytes;
    for (std::int64_t t0 = 0; t0 < n; t0 += kTokenBlock) {
      const std::int64_t tokens = n - t0 < kTokenBlock ? n - t0 : kTokenBlock;
      for (std::int64_t k0 = 0; k0 < k16; k0 += kChunk) {
        const std::int64_t klen = k16 - k0 < kChunk ? k16 - k0 : kChunk;
        const bool first = k0 == 0, last = k0 + klen == k16;
        const float* wp;
        std::size_t w_stride;
        if constexpr (W == FloatWeight::F32) {
          wp = reinterpret_cast<const float*>(wrows) + k0;
          w_stride = w_row_bytes / sizeof(float);
        } else {
          widen_chunk<W>(wrows, w_row_bytes, rows, k0, klen, wide);
          wp = wide;
          w_stride = kChunk;
        }
        for (std::int64_t t = 0; t < tokens; t += kTileTokens) {
          const int tt = static_cast<int>(tokens - t < kTileTokens ? tokens - t : kTileTokens);
          float* acc = partial + t * kTileRows * 16;
          float* out = last ? y + (t0 + t) * y_stride + o : nullptr;
          tile_for(rows, tt)(wp, w_stride, x + (t0 + t) * x_stride + k0, x_stride, klen, acc,
                             first, out, y_stride);
        }
      }
    }
  }
}

template <FloatWeight W>
void matmul_typed(const std::uint8_t* w, std::size_t w_row_bytes, std::int64_t cols,
                  const std::uint8_t* x, std::size_t x_stride, float* y, std::size_t y_stride,
                  std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t k16 = (cols + 15) / 16 * 16;
  const auto* xf = reinterpret_cast<const float*>(x);
  if (n == 1) {
    matmul_decode<W>(w, w_row_bytes, k16, xf, y, row_begin, row_end);
  } else {
    matmul_prefill<W>(w, w_row_bytes, k16, xf, x_stride / sizeof(float), y, y_stride, n,
                      row_begin, row_end);
  }
}

}  // namespace

void float_matmul_avx2(FloatWeight type, const std::uint8_t* w, std::size_t w_row_bytes,
                       std::int64_t cols, const std::uint8_t* x, std::size_t x_stride, float* y,
                       std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                       std::int64_t row_end) {
  switch (type) {
    case FloatWeight::F32:
      return matmul_typed<FloatWeight::F32>(w, w_row_bytes, cols, x, x_stride, y, y_stride, n,
                                            row_begin, row_end);
    case FloatWeight::F16:
      return matmul_typed<FloatWeight::F16>(w, w_row_bytes, cols, x, x_stride, y, y_stride, n,
                                            row_begin, row_end);
    case FloatWeight::BF16:
      return matmul_typed<FloatWeight::BF16>(w, w_row_bytes, cols, x, x_stride, y, y_stride, n,
                                             row_begin, row_end);
  }
}

}  // namespace lockstep::cpu::kernels
