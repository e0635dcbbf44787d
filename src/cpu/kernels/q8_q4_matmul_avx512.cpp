// AVX-512 VNNI kernels for Q8_0 / Q4_0 weights (layout and arithmetic in q8_q4_layout.h).
// One zmm lane = one of the 16 rows of a panel; vpdpbusd multiplies 4 unsigned weight bytes by
// 4 signed activation bytes broadcast from one token. The int32 accumulator of a block starts
// at the activation's bias (-offset * sum q), which removes the unsigned offset of the weights
// exactly. Tile: one panel (16 rows) x up to 8 tokens; decode (n = 1) streams the panels.
// GCC 12 warns about _mm512_undefined_ps inside its own intrinsics (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)  // GCC only: clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/kernels/q8_q4_layout.h"

namespace lockstep::cpu::kernels::q8q4 {
namespace {

constexpr int kMaxTokens = 8;  // 8 int32 + 8 fp32 accumulators, the weight chunk and temps
// Software prefetch distance for decode, in bytes ahead of the chunk being read: about 2 us of
// streaming at 13 GB/s would be 26 KB; 4 KB (64 lines) in flight measured enough on top of the
// hardware prefetcher.
constexpr std::int64_t kPrefetchBytes = 4096;

inline __m512i broadcast4(const std::int8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <bool kQ4, int T, bool kPrefetch>
inline void tile(const std::uint8_t* panel, std::int64_t nb, const std::int8_t* const* xq,
                 const float* const* xd, const std::int32_t* const* xb, float* y,
                 std::size_t y_stride, __mmask16 mask) {
  constexpr bool kSplit = T <= 4;
  const std::int64_t quant_bytes = panel_quant_bytes(kQ4, nb * kBlock);
  const auto* scales = reinterpret_cast<const std::uint16_t*>(panel + quant_bytes);
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  __m512 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (std::int64_t b = 0; b < nb; ++b) {
    const std::uint8_t* wq = panel + b * block_quant_bytes(kQ4);
    __m512i s[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) s[t] = _mm512_set1_epi32(xb[t][b]);
    // Small tiles split each block's dependent vpdpbusd chain in two (exact integer sums).
    __m512i s2[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) s2[t] = _mm512_setzero_si512();
    if constexpr (kQ4) {
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        if constexpr (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(wq + 64 * c + kPrefetchBytes), _MM_HINT_T0);
        const __m512i raw = _mm512_load_si512(wq + 64 * c);
        const __m512i lo = _mm512_and_si512(raw, nibble);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          s[t] = _mm512_dpbusd_epi32(s[t], lo, broadcast4(xq[t] + b * kBlock + 4 * c));
          if constexpr (kSplit) {
            s2[t] = _mm512_dpbusd_epi32(s2[t], hi, broadcast4(xq[t] + b * kBlock + 16 + 4 * c));
          } else {
            s[t] = _mm512_dpbusd_epi32(s[t], hi, broadcast4(xq[t] + b * kBlock + 16 + 4 * c));
          }
        }
      }
    } else {
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        if constexpr (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(wq + 64 * c + kPrefetchBytes), _MM_HINT_T0);
        const __m512i w = _mm512_load_si512(wq + 64 * c);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          if (kSplit && c % 2 == 1) {
            s2[t] = _mm512_dpbusd_epi32(s2[t], w, broadcast4(xq[t] + b * kBlock + 4 * c));
          } else {
            s[t] = _mm512_dpbusd_epi32(s[t], w, broadcast4(xq[t] + b * kBlock + 4 * c));
          }
        }
      }
    }
    if constexpr (kSplit) {
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) s[t] = _mm512_add_epi32(s[t], s2[t]);
    }
    const __m512 dw = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * kPanelRows)));
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m512 p = _mm512_mul_ps(dw, _mm512_set1_ps(xd[t][b]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), p, acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, mask, acc[t]);
}

template <bool kQ4>
void matmul(const std::uint8_t* w, std::int64_t rows, std::int64_t cols, const std::uint8_t* x,
            std::size_t x_stride, float* y, std::size_t y_stride, std::int64_t n,
            std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  const std::int64_t pbytes = panel_bytes(kQ4, cols);
  const std::int64_t q_bytes = activation_q_bytes(cols);
  const std::int64_t d_bytes = activation_d_bytes(cols);
  for (std::int64_t p = row_begin / kPanelRows; p * kPanelRows < row_end; ++p) {
    const std::int64_t first = p * kPanelRows;
    const std::int64_t lo = (row_begin > first ? row_begin : first) - first;
    const std::int64_t hi = (row_end < first + kPanelRows ? row_end : first + kPanelRows) - first;
    const auto mask = static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
    const std::uint8_t* panel = w + p * pbytes;
    for (std::int64_t t0 = 0; t0 < n; t0 += kMaxTokens) {
      const std::int8_t* xq[kMaxTokens];
      const float* xd[kMaxTokens];
      const std::int32_t* xb[kMaxTokens];
      const std::int64_t count = n - t0 < kMaxTokens ? n - t0 : kMaxTokens;
      for (std::int64_t t = 0; t < count; ++t) {
        const std::uint8_t* row = x + static_cast<std::size_t>(t0 + t) * x_stride;
        xq[t] = reinterpret_cast<const std::int8_t*>(row);
        xd[t] = reinterpret_cast<const float*>(row + q_bytes);
        xb[t] = reinterpret_cast<const std::int32_t*>(row + q_bytes + d_bytes);
      }
      float* yt = y + static_cast<std::size_t>(t0) * y_stride + first;
      switch (count) {
        case 1: tile<kQ4, 1, true>(panel, nb, xq, xd, xb, yt, y_stride, mask); break;
        case 2: tile<kQ4, 2, false>(panel, nb, xq, xd, xb, yt, y_stride, mask); break;
        case 3: tile<kQ4, 3, false>(panel, nb, xq, xd, xb, yt, y_stride, mask); break;
        case 4: tile<kQ4, 4, false>(panel, nb, xq, xd, xb, yt, y_stride, mask); break;
        case 5: tile<kQ4, 5, false>(panel, nb, xq, xd, xb, yt, y_stride, mask); break;
        case 6: tile<kQ4, 6, false>(panel, nb, xq, xd, xb, yt, y_stride, mask); break;
        case 7: tile<kQ4, 7, false>(panel, nb, xq, xd, xb, yt, y_stride, mask); break;
        default: tile<kQ4, 8, false>(panel, nb, xq, xd, xb, yt, y_stride, mask); break;
      }
    }
  }
}

}  // namespace

void prepare_activation_avx512(const float* x, std::uint8_t* out, std::int64_t cols,
                               std::int32_t offset) {
  const std::int64_t nb = cols / kBlock;
  const auto [q, d, bias] = activation_row(out, cols);
  std::memset(out, 0, static_cast<std::size_t>(activation_bytes(cols)));
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (std::int64_t b = 0; b < nb; ++b) {
    const __m512 x0 = _mm512_loadu_ps(x + b * kBlock);
    const __m512 x1 = _mm512_loadu_ps(x + b * kBlock + 16);
    const __m512 m = _mm512_max_ps(_mm512_and_ps(x0, abs_mask), _mm512_and_ps(x1, abs_mask));
    const float amax = _mm512_reduce_max_ps(m);
    const float db = amax >= kMinActivationAmax ? amax / 127.0f : 0.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    // vcvtps2dq rounds to nearest even (MXCSR default), like the portable std::nearbyint.
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, vid));
    const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, vid));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * kBlock), _mm512_cvtepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * kBlock + 16), _mm512_cvtepi32_epi8(i1));
    d[b] = db;
    bias[b] = -offset * _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
  }
}

LOCKSTEP_Q8Q4_DEFINE_MATMULS(avx512, matmul)

}  // namespace lockstep::cpu::kernels::q8q4
