// AVX-512 float matmul (F32, F16, BF16 weights; fp32 activations and accumulation). The
// summation order is the one float_matmul_isa.h fixes: one 16-lane zmm accumulator per output.
//
// Decode (n = 1): rows stream straight from the packed matrix, kRowsInFlight rows at a time
// (one accumulator each, so that many independent FMA chains), converted in registers, while
// the next kRowsInFlight rows are software-prefetched (F16 at 2048 columns: 11.6 -> 13.7 GB/s).
// Prefill (n >= 2): a register tile of up to kTileRows rows x kTileTokens tokens (24 zmm
// accumulators); the weights of a row group are first widened to fp32 in a kChunk-column stack
// buffer (8 rows x 512 fp32 = 16 KiB, L1-resident) and reused by every token tile of a token
// block; the partial accumulators of a token block live in a stack buffer between chunks.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* placeholders inside the intrinsics as
// "(may be) used uninitialized"; a false positive.
#if defined(__GNUC__) && !defined(__clang__)  // GCC only: clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <cstddef>
#include <cstdint>

#include "cpu/kernels/float_matmul_isa.h"

namespace lockstep::cpu::kernels {
namespace {

constexpr int kRowsInFlight = 8;      // decode: independent rows (FMA chains) per pass; 8
                                      // streamed ~15% faster than 4 here (F16, measured)
constexpr int kTileRows = 8;          // prefill tile: 8 rows x 3 tokens = 24 accumulators
constexpr int kTileTokens = 3;        //   (+ 3 activation registers + 1 weight register <= 32)
constexpr std::int64_t kChunk = 512;  // prefill k-chunk: 8 x 512 fp32 weights = 16 KiB of L1
constexpr int kTokenBlock = 24;       // prefill token block (multiple of kTileTokens)

template <FloatWeight W>
inline __m512 load_weights(const std::uint8_t* row, std::int64_t k) {
  if constexpr (W == FloatWeight::F32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (W == FloatWeight::F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)));
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// The fixed tree of float_matmul_isa.h.
inline float reduce16(__m512 s) {
  const __m256 t = _mm256_add_ps(_mm512_castps512_ps256(s), _mm512_extractf32x8_ps(s, 1));
  const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));
  return _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 1)));
}

template <FloatWeight W>
constexpr std::size_t kWeightBytes = W == FloatWeight::F32 ? 4 : 2;

// Decode: R rows against one activation row. next: the next R rows, prefetched in step with
// these (rows shorter than a page each start a new page, where the hardware prefetcher would
// first have to relearn the stream), or nullptr.
template <FloatWeight W, int R>
inline void rows_times_vector(const std::uint8_t* w, std::size_t w_row_bytes, const float* x,
                              std::int64_t k16, float* y, const std::uint8_t* next) {
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < k16; k += 16) {
    if (next != nullptr) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(next + r * w_row_bytes + k * kWeightBytes<W>),
                     _MM_HINT_T0);
    }
    const __m512 xv = _mm512_loadu_ps(x + k);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(load_weights<W>(w + r * w_row_bytes, k), xv, acc[r]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) y[r] = reduce16(acc[r]);
}

template <FloatWeight W>
void matmul_decode(const std::uint8_t* w, std::size_t w_row_bytes, std::int64_t k16,
                   const float* x, float* y, std::int64_t row_begin, std::int64_t row_end) {
  std::int64_t o = row_begin;
  for (; o + kRowsInFlight <= row_end; o += kRowsInFlight) {
    const std::uint8_t* next =
        o + 2 * kRowsInFlight <= row_end ? w + (o + kRowsInFlight) * w_row_bytes : nullptr;
    rows_times_vector<W, kRowsInFlight>(w + o * w_row_bytes, w_row_bytes, x, k16, y + o, next);
  }
  for (; o < row_end; ++o)
    rows_times_vector<W, 1>(w + o * w_row_bytes, w_row_bytes, x, k16, y + o, nullptr);
}

// Prefill tile: R rows (fp32, w_stride floats apart) x T tokens (x_stride floats apart) over
// klen columns. acc: [T][R][16] fp32 partial sums; first: start from +0; y: when not null,
// the reduced results go to y[t * y_stride + r] instead of acc.
template <int R, int T>
void tile(const float* w, std::size_t w_stride, const float* x, std::size_t x_stride,
          std::int64_t klen, float* acc_buf, bool first, float* y, std::size_t y_stride) {
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
  #pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
      acc[r][t] = first ? _mm512_setzero_ps() : _mm512_load_ps(acc_buf + (t * R + r) * 16);
  for (std::int64_t k = 0; k < klen; k += 16) {
    __m512 xv[T];
  #pragma GCC unroll 8
    for (int t = 0; t < T; ++t) xv[t] = _mm512_loadu_ps(x + t * x_stride + k);
  #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      __m512 wv = _mm512_load_ps(w + r * w_stride + k);
      __asm__("" : "+v"(wv));  // one load per weight vector, not one per FMA
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
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
      for (int t = 0; t < T; ++t) _mm512_store_ps(acc_buf + (t * R + r) * 16, acc[r][t]);
  }
}

using TileFn = void (*)(const float*, std::size_t, const float*, std::size_t, std::int64_t,
                        float*, bool, float*, std::size_t);

template <int R>
TileFn tile_for_tokens(int t) {
  switch (t) {
    case 1: return &tile<R, 1>;
    case 2: return &tile<R, 2>;
    case 3: return &tile<R, 3>;
    case 4: return &tile<R, 4>;
    case 5: return &tile<R, 5>;
    default: return &tile<R, 6>;
  }
}

TileFn tile_for(int r, int t) {
  switch (r) {
    case 1: return tile_for_tokens<1>(t);
    case 2: return tile_for_tokens<2>(t);
    case 3: return tile_for_tokens<3>(t);
    case 4: return tile_for_tokens<4>(t);
    case 5: return tile_for_tokens<5>(t);
    case 6: return tile_for_tokens<6>(t);
    case 7: return tile_for_tokens<7>(t);
    default: return tile_for_tokens<8>(t);
  }
}

template <FloatWeight W>
void widen_chunk(const std::uint8_t* w, std::size_t w_row_bytes, int rows, std::int64_t k0,
                 std::int64_t klen, float* out /* [rows][kChunk] fp32 */) {
  for (int r = 0; r < rows; ++r)
    for (std::int64_t k = 0; k < klen; k += 16)
      _mm512_store_ps(out + r * kChunk + k, load_weights<W>(w + r * w_row_bytes, k0 + k));
}

template <FloatWeight W>
void matmul_prefill(const std::uint8_t* w, std::size_t w_row_bytes, std::int64_t k16,
                    const float* x, std::size_t x_stride, float* y, std::size_t y_stride,
                    std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
  alignas(64) float wide[kTileRows * kChunk];             // [kTileRows][kChunk] fp32
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
  const std::size_t xs = x_stride / sizeof(float);
  if (n == 1) {
    matmul_decode<W>(w, w_row_bytes, k16, xf, y, row_begin, row_end);
  } else {
    matmul_prefill<W>(w, w_row_bytes, k16, xf, xs, y, y_stride, n, row_begin, row_end);
  }
}

}  // namespace

void float_matmul_avx512(FloatWeight type, const std::uint8_t* w, std::size_t w_row_bytes,
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
