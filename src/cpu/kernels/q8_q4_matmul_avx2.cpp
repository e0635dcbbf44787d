// AVX2 kernels for Q8_0 / Q4_0 weights (layout and arithmetic in q8_q4_layout.h). One ymm
// lane = one of 8 rows (half a panel). Without VNNI: vpmaddubsw (unsigned x signed byte pairs
// into int16) and vpmaddwd by ones into int32.
// - Q4_0: nibbles 0..15 are the unsigned operand (pairs stay below 2 * 15 * 127, no
//   saturation); the accumulator starts at the activation's bias -8 * sum q.
// - Q8_0: the stored byte q + 128 would saturate int16, so the weight is recovered (^0x80) and
//   the sign trick used: |w| x sign(q, w), pairs at most 2 * 128 * 127 = 32512; no bias.
// The int32 block sums are exact, and the float steps follow the shared lane arithmetic, so the
// results equal the portable and AVX-512 kernels' bits. Tile: 8 rows x up to 4 tokens.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/kernels/q8_q4_layout.h"

namespace lockstep::cpu::kernels::q8q4 {
namespace {

constexpr int kMaxTokens = 4;  // 4 int32 + 4 fp32 accumulators of 16 ymm registers

inline __m256i broadcast4(const std::int8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// H = 1: the 8 rows of half `half` of the panel; H = 2: both halves (16 rows, decode), which
// reads each 64-byte line once and keeps twice the independent work in flight.
template <bool kQ4, int T, int H>
inline void tile(const std::uint8_t* panel, int half, std::int64_t nb,
                 const std::int8_t* const* xq, const float* const* xd,
                 const std::int32_t* const* xb, float* y, std::size_t y_stride,
                 const __m256i* mask) {
  const std::int64_t quant_bytes = panel_quant_bytes(kQ4, nb * kBlock);
  const auto* scales = reinterpret_cast<const std::uint16_t*>(panel + quant_bytes);
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc[H][T];
#pragma GCC unroll 2
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[h][t] = _mm256_setzero_ps();
  }
  for (std::int64_t b = 0; b < nb; ++b) {
    __m256i s[H][T];
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h) {
      const std::uint8_t* wq = panel + b * block_quant_bytes(kQ4) + 32 * (half + h);
      if constexpr (kQ4) {
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) s[h][t] = _mm256_set1_epi32(xb[t][b]);
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          const __m256i raw = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + 64 * c));
          const __m256i lo = _mm256_and_si256(raw, nibble);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble);
#pragma GCC unroll 4
          for (int t = 0; t < T; ++t) {
            const __m256i p16 = _mm256_add_epi16(
                _mm256_maddubs_epi16(lo, broadcast4(xq[t] + b * kBlock + 4 * c)),
                _mm256_maddubs_epi16(hi, broadcast4(xq[t] + b * kBlock + 16 + 4 * c)));
            s[h][t] = _mm256_add_epi32(s[h][t], _mm256_madd_epi16(p16, ones));
          }
        }
      } else {
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) s[h][t] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) {
          const __m256i w = _mm256_xor_si256(
              _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + 64 * c)), flip);
          const __m256i aw = _mm256_abs_epi8(w);
#pragma GCC unroll 4
          for (int t = 0; t < T; ++t) {
            const __m256i sq = _mm256_sign_epi8(broadcast4(xq[t] + b * kBlock + 4 * c), w);
            s[h][t] = _mm256_add_epi32(s[h][t],
                                       _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sq), ones));
          }
        }
      }
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(
          reinterpret_cast<const __m128i*>(scales + b * kPanelRows + 8 * (half + h))));
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m256 p = _mm256_mul_ps(dw, _mm256_set1_ps(xd[t][b]));
        acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[h][t]), p, acc[h][t]);
      }
    }
  }
#pragma GCC unroll 2
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) _mm256_maskstore_ps(y + t * y_stride + 8 * h, mask[h], acc[h][t]);
  }
}

template <bool kQ4>
void matmul(const std::uint8_t* w, std::int64_t rows, std::int64_t cols, const std::uint8_t* x,
            std::size_t x_stride, float* y, std::size_t y_stride, std::int64_t n,
            std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  const std::int64_t pbytes = panel_bytes(kQ4, cols);
  const std::int64_t q_bytes = activation_q_bytes(cols);
  const std::int64_t d_bytes = activation_d_bytes(cols);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  // Lane i of 8-row group g is stored when row_begin <= 8g + i < row_end (maskstore looks at
  // the sign bit).
  auto group_mask = [&](std::int64_t g) {
    const std::int64_t first = g * 8;
    const std::int64_t lo = (row_begin > first ? row_begin : first) - first;
    const std::int64_t hi = (row_end < first + 8 ? row_end : first + 8) - first;
    return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), lane),
                            _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(static_cast<int>(lo) - 1)));
  };
  const std::int64_t g_begin = row_begin / 8, g_end = (row_end + 7) / 8;
  for (std::int64_t p = g_begin / 2; p * 2 < g_end; ++p) {
    const std::uint8_t* panel = w + p * pbytes;
    // The 8-row groups of this panel inside the range: 2p, 2p + 1, or both.
    const std::int64_t g0 = p * 2 < g_begin ? g_begin : p * 2;
    const std::int64_t g1 = p * 2 + 2 < g_end ? p * 2 + 2 : g_end;
    const __m256i masks[2] = {group_mask(g0), group_mask(g0 + 1)};
    float* yp = y + g0 * 8;
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
      float* yt = yp + static_cast<std::size_t>(t0) * y_stride;
      if (count == 1 && g1 - g0 == 2) {
        tile<kQ4, 1, 2>(panel, 0, nb, xq, xd, xb, yt, y_stride, masks);
        continue;
      }
      for (std::int64_t g = g0; g < g1; ++g) {
        const int h = static_cast<int>(g % 2);
        float* yg = yt + (g - g0) * 8;
        const __m256i* m = &masks[g - g0];
        switch (count) {
          case 1: tile<kQ4, 1, 1>(panel, h, nb, xq, xd, xb, yg, y_stride, m); break;
          case 2: tile<kQ4, 2, 1>(panel, h, nb, xq, xd, xb, yg, y_stride, m); break;
          case 3: tile<kQ4, 3, 1>(panel, h, nb, xq, xd, xb, yg, y_stride, m); break;
          default: tile<kQ4, 4, 1>(panel, h, nb, xq, xd, xb, yg, y_stride, m); break;
        }
      }
    }
  }
}

}  // namespace

void prepare_activation_avx2(const float* x, std::uint8_t* out, std::int64_t cols,
                             std::int32_t offset) {
  const std::int64_t nb = cols / kBlock;
  const auto [q, d, bias] = activation_row(out, cols);
  std::memset(out, 0, static_cast<std::size_t>(activation_bytes(cols)));
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (std::int64_t b = 0; b < nb; ++b) {
    __m256 v[4];
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + b * kBlock + 8 * k);
      m = _mm256_max_ps(m, _mm256_and_ps(v[k], abs_mask));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float db = amax >= kMinActivationAmax ? amax / 127.0f : 0.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i sum = _mm256_setzero_si256();
    __m256i i[4];
    for (int k = 0; k < 4; ++k) {
      // vcvtps2dq rounds to nearest even (MXCSR default), like the portable std::nearbyint.
      i[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vid));
      sum = _mm256_add_epi32(sum, i[k]);
    }
    // int32 -> int8 (values within -127..127): packs keep the order within 128-bit lanes.
    const __m256i w01 = _mm256_packs_epi32(i[0], i[1]);
    const __m256i w23 = _mm256_packs_epi32(i[2], i[3]);
    const __m256i b8 = _mm256_packs_epi16(w01, w23);
    const __m256i ordered =
        _mm256_permutevar8x32_epi32(b8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * kBlock), ordered);
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    d[b] = db;
    bias[b] = -offset * _mm_cvtsi128_si32(s4);
  }
}

LOCKSTEP_Q8Q4_DEFINE_MATMULS(avx2, matmul)

}  // namespace lockstep::cpu::kernels::q8q4
