#include "numerics/quantize.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "numerics/half.h"
#include "numerics/mxfp4.h"

// The algorithms below are those of llama.cpp's reference quantizers (ggml/src/ggml-quants.c,
// MIT licence), re-implemented here. Bit-identical output requires the same float operations in
// the same order, so every expression keeps ggml's association (a*b*c is (a*b)*c, int operands
// are converted to float where C converts them) and lockstep builds with -ffp-contract=off.
//
// Block layouts (ggml-common.h; little-endian, packed):
//   block_q8_0 (34 B / 32): fp16 d; int8 qs[32].
//   block_q4_0 (18 B / 32): fp16 d; uint8 qs[16] (value j: low nibble of qs[j]; value j+16: high).
//   block_q4_K (144 B / 256): fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128].
//   block_q6_K (210 B / 256): uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d.

namespace lockstep::numerics {
namespace {

constexpr int kQK = 32;    // values per Q4_0 / Q8_0 block
constexpr int kQK_K = 256;  // values per K-quant super-block
constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS: "all zero" threshold

inline void store_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v & 0xFF);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

inline bool fp16_is_inf(std::uint16_t h) { return (h & 0x7FFF) == 0x7C00; }

// Round to nearest, ties to even, via the 1.5 * 2^23 trick of ggml's nearest_int (exact for
// |v| <= 4194303; larger magnitudes are clamped first, which ggml leaves undefined).
inline int nearest_int(float v) {
  v = std::clamp(v, -4194303.f, 4194303.f);
  const float shifted = v + 12582912.f;
  const auto bits = std::bit_cast<std::int32_t>(shifted);
  return (bits & 0x007FFFFF) - 0x00400000;
}

// Float -> int truncation toward zero, defined for every input: NaN and values outside the int
// range give INT_MIN, which is what x86's cvttss2si returns and so what llama.cpp's (undefined
// in C) float -> int8 conversions produce there. Only reachable for blocks whose fp32 scale is
// subnormal (|x| below ~1e-36), where 1 / d overflows; their fp16 scale is zero anyway.
inline int truncate_to_int(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return std::numeric_limits<int>::min();
  return static_cast<int>(v);
}

// Fails unless the n values at x are finite. `block` is the index for the message.
void check_finite(const float* x, int n, TensorType type, std::int64_t block) {
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      fail("cannot quantize to {}: value {} of block {} is {}", tensor_type_info(type).name, i,
           block, x[i]);
    }
  }
}

[[noreturn]] void fail_scale_overflow(TensorType type, std::int64_t block) {
  fail("cannot quantize to {}: the values of block {} are too large for its fp16 scale",
       tensor_type_info(type).name, block);
}

// ---------------------------------------------------------------------------------- Q8_0
// d = amax / 127, q = round(x / d) (roundf: half away from zero), with x / d computed as x * id.
void quantize_q8_0(const float* x, std::uint8_t* y, std::int64_t blocks) {
  for (std::int64_t i = 0; i < blocks; ++i, x += kQK, y += 34) {
    check_finite(x, kQK, TensorType::Q8_0, i);
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const std::uint16_t dh = fp32_to_fp16(d);
    if (fp16_is_inf(dh)) fail_scale_overflow(TensorType::Q8_0, i);
    store_u16(y, dh);
    for (int j = 0; j < kQK; ++j) {
      const int q = truncate_to_int(std::round(x[j] * id));  // in [-127, 127] unless 1/d overflowed
      y[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
    }
  }
}

// ---------------------------------------------------------------------------------- Q4_0
// d = max / -8 where max is the value of largest magnitude (first one on ties), so that value
// maps to q = 0; q = min(15, trunc(x / d + 8.5)).
void quantize_q4_0(const float* x, std::uint8_t* y, std::int64_t blocks) {
  for (std::int64_t i = 0; i < blocks; ++i, x += kQK, y += 18) {
    check_finite(x, kQK, TensorType::Q4_0, i);
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const std::uint16_t dh = fp32_to_fp16(d);
    if (fp16_is_inf(dh)) fail_scale_overflow(TensorType::Q4_0, i);
    store_u16(y, dh);
    for (int j = 0; j < kQK / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[j + kQK / 2] * id;
      // In [0, 16] before the clamp (INT_MIN when 1/d overflowed: nibble 0, as ggml on x86).
      const int q0 = std::clamp(truncate_to_int(x0 + 8.5f), 0, 15);
      const int q1 = std::clamp(truncate_to_int(x1 + 8.5f), 0, 15);
      y[2 + j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
    }
  }
}

// ---------------------------------------------------------------------------------- Q4_K
// ggml's make_qkx2_quants: fits x[i] ~ scale * L[i] - the_min with L in [0, nmax], minimising
// the weighted squared (or absolute, use_mad) error over a grid of nstep + 1 trial inverse
// scales (rmin + rdelta * is + nmax) / (max - min), each refined by weighted least squares.
// Returns the scale; *the_min receives the (non-negative) offset.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, std::uint8_t* L,
                       float* the_min, std::uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  const float fnmax = static_cast<float>(nmax);
  float iscale = fnmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<std::uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + fnmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<std::uint8_t>(l);
      const float w = weights[i];
      const float fl = static_cast<float>(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// Q4_K super-block: 8 sub-blocks of 32 values, x ~ d*sc[j] * q - dmin*m[j], q in [0, 15], with
// 6-bit sc and m. The 12 scale bytes pack sub-block j < 4 as scales[j] = sc (low 6 bits),
// scales[j+4] = m; sub-block j >= 4 as scales[j+4] = sc_lo4 | m_lo4 << 4, and its top 2 bits in
// bits 6..7 of scales[j-4] (sc) and scales[j] (m) (ggml's get_scale_min_k4 reads it back).
// qs: 4 groups of 32 bytes; group g holds sub-block 2g in low nibbles and 2g+1 in high nibbles.
void scale_min_k4(int j, const std::uint8_t* q, std::uint8_t& sc, std::uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void quantize_q4_k(const float* x, std::uint8_t* y, std::int64_t blocks) {
  std::uint8_t L[kQK_K];
  std::uint8_t Laux[32];
  float weights[32];
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  for (std::int64_t i = 0; i < blocks; ++i, x += kQK_K, y += 144) {
    check_finite(x, kQK_K, TensorType::Q4_K, i);
    std::uint8_t* sc_bytes = y + 4;
    std::uint8_t* qs = y + 16;

    float max_scale = 0;  // the mins are subtracted, so scales are never negative
    float max_min = 0;
    for (int j = 0; j < kQK_K / 32; ++j) {
      const float* xs = x + 32 * j;
      float sum_x2 = 0;
      for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
      const float av_x = std::sqrt(sum_x2 / 32);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
      scales[j] = make_qkx2_quants(32, 15, xs, weights, L + 32 * j, &mins[j], Laux, -1.f, 0.1f,
                                   20, false);
      // Only |x| beyond ~1e19 (x^2 overflows) can make these non-finite; that must not be
      // hidden by the comparisons below, which skip NaN.
      if (!std::isfinite(scales[j]) || !std::isfinite(mins[j])) {
        fail_scale_overflow(TensorType::Q4_K, i);
      }
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }

    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < kQK_K / 32; ++j) {
      // As ggml: int -> uint8_t (modulo 256), then capped at 63.
      auto ls = static_cast<std::uint8_t>(nearest_int(inv_scale * scales[j]));
      auto lm = static_cast<std::uint8_t>(nearest_int(inv_min * mins[j]));
      ls = std::min<std::uint8_t>(63, ls);
      lm = std::min<std::uint8_t>(63, lm);
      if (j < 4) {
        sc_bytes[j] = ls;
        sc_bytes[j + 4] = lm;
      } else {
        sc_bytes[j + 4] = static_cast<std::uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
        sc_bytes[j - 4] |= static_cast<std::uint8_t>((ls >> 4) << 6);
        sc_bytes[j - 0] |= static_cast<std::uint8_t>((lm >> 4) << 6);
      }
    }
    const std::uint16_t dh = fp32_to_fp16(max_scale / 63.f);
    const std::uint16_t dminh = fp32_to_fp16(max_min / 63.f);
    if (fp16_is_inf(dh) || fp16_is_inf(dminh)) fail_scale_overflow(TensorType::Q4_K, i);
    store_u16(y, dh);
    store_u16(y + 2, dminh);

    // Requantize each sub-block against the scales as stored (fp16 d, 6-bit sc and m).
    for (int j = 0; j < kQK_K / 32; ++j) {
      std::uint8_t sc = 0, m = 0;
      scale_min_k4(j, sc_bytes, sc, m);
      const float d = fp16_to_fp32(dh) * static_cast<float>(sc);
      if (d == 0.0f) continue;  // keep make_qkx2_quants' levels, as ggml does
      const float dm = fp16_to_fp32(dminh) * static_cast<float>(m);
      for (int ii = 0; ii < 32; ++ii) {
        const int l = nearest_int((x[32 * j + ii] + dm) / d);
        L[32 * j + ii] = static_cast<std::uint8_t>(std::max(0, std::min(15, l)));
      }
    }

    for (int j = 0; j < kQK_K; j += 64, qs += 32) {
      for (int l = 0; l < 32; ++l) {
        qs[l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 4));
      }
    }
  }
}

// ---------------------------------------------------------------------------------- Q6_K
// ggml's make_qx_quants with rmse_type 1 and no importance weights: symmetric levels
// L in [0, 2*nmax) standing for l = L - nmax in [-nmax, nmax-1], x ~ scale * l, weights x^2.
// Starts from the scale that maps the largest-magnitude value to -nmax, then tries 18 nearby
// inverse scales -(nmax + 0.1*is) / max and keeps the least-squares best. Returns the scale.
float make_qx_quants_rmse1(int n, int nmax, const float* x, std::int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {  // all zero
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float fnmax = static_cast<float>(nmax);
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<std::int8_t>(l + nmax);
    const float w = x[i] * x[i];
    const float fl = static_cast<float>(l);
    sumlx += w * x[i] * fl;
    suml2 += w * fl * fl;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(fnmax + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      const float fl = static_cast<float>(l);
      sumlx += w * x[i] * fl;
      suml2 += w * fl * fl;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = static_cast<std::int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q6_K super-block: 16 sub-blocks of 16 values, x ~ d * sc[j] * (q - 32), q in [0, 63], sc int8.
// Packing per half of 128 values (ql += 64, qh += 32 per half): value l + 32k (l < 32, k < 4)
// stores its low 4 bits in ql[l] (k = 0: low nibble, k = 2: high) or ql[l + 32] (k = 1: low,
// k = 3: high), and its top 2 bits in bits 2k..2k+1 of qh[l].
void quantize_q6_k(const float* x, std::uint8_t* y, std::int64_t blocks) {
  std::int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (std::int64_t i = 0; i < blocks; ++i, x += kQK_K, y += 210) {
    check_finite(x, kQK_K, TensorType::Q6_K, i);
    std::uint8_t* ql = y;
    std::uint8_t* qh = y + 128;
    std::uint8_t* sc_bytes = y + 192;

    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float scale = make_qx_quants_rmse1(16, 32, x + 16 * ib, L + 16 * ib);
      // Only |x| beyond ~7e12 (x^3 overflows) can make the scale non-finite; a NaN scale would
      // otherwise be skipped by the comparison below and the block silently clipped.
      if (!std::isfinite(scale)) fail_scale_overflow(TensorType::Q6_K, i);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }

    if (max_abs_scale < kGroupMaxEps) {  // all (near) zero: an all-zero block, d = +0
      std::memset(y, 0, 210);
      continue;
    }

    const float iscale = -128.f / max_scale;
    const std::uint16_t dh = fp32_to_fp16(1 / iscale);
    if (fp16_is_inf(dh)) fail_scale_overflow(TensorType::Q6_K, i);
    store_u16(y + 208, dh);
    std::int8_t sc[kQK_K / 16];
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      sc[ib] = static_cast<std::int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
      sc_bytes[ib] = static_cast<std::uint8_t>(sc[ib]);
    }

    // Requantize each sub-block against the stored scale (fp16 d times int8 sc).
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = fp16_to_fp32(dh) * static_cast<float>(sc[j]);
      if (d == 0.0f) continue;  // keep make_qx_quants' levels, as ggml does
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int(x[16 * j + ii] / d);
        l = std::max(-32, std::min(31, l));
        L[16 * j + ii] = static_cast<std::int8_t>(l + 32);
      }
    }

    for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const int q1 = L[j + l + 0];
        const int q2 = L[j + l + 32];
        const int q3 = L[j + l + 64];
        const int q4 = L[j + l + 96];
        ql[l + 0] = static_cast<std::uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        ql[l + 32] = static_cast<std::uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        qh[l] = static_cast<std::uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                          ((q4 >> 4) << 6));
      }
    }
  }
}

// MXFP4, as llama.cpp's quantize_row_mxfp4_ref: e = floor(log2 amax) - 2 + 127 (0 for an
// all-zero block), then each value takes the code whose kMxfp4Values[code] * 2^(e - 128) is
// nearest, ties to the lower code. No scale search: the largest code, 12 * 2^(e - 128) =
// 1.5 * 2^floor(log2 amax), saturates the block's largest values when amax exceeds it.
void quantize_mxfp4(const float* x, std::uint8_t* y, std::int64_t blocks) {
  const auto best_code = [](float v, float d) {
    int best = 0;
    float best_err = std::fabs(static_cast<float>(kMxfp4Values[0]) * d - v);
    for (int c = 1; c < 16; ++c) {
      const float err = std::fabs(static_cast<float>(kMxfp4Values[c]) * d - v);
      if (err < best_err) {
        best = c;
        best_err = err;
      }
    }
    return best;
  };
  for (std::int64_t i = 0; i < blocks; ++i, x += 32, y += 17) {
    check_finite(x, 32, TensorType::MXFP4, i);
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    // Below 2^-125 the exponent would go under E8M0's range (llama.cpp's cast is undefined
    // there); such a block keeps the smallest exponent.
    const float e = amax > 0.0f ? std::floor(std::log2(amax)) - 2.0f + 127.0f : 0.0f;
    const auto code_e = static_cast<std::uint8_t>(std::clamp(e, 0.0f, 255.0f));
    const float d = e8m0_to_fp32_half(code_e);
    y[0] = code_e;
    for (int j = 0; j < 16; ++j)
      y[1 + j] = static_cast<std::uint8_t>(best_code(x[j], d) | (best_code(x[j + 16], d) << 4));
  }
}

}  // namespace

void quantize_row(TensorType type, const float* src, std::uint8_t* dst, std::int64_t n) {
  const auto& info = tensor_type_info(type);
  const auto block = static_cast<std::int64_t>(info.block_values);
  if (n < 0 || n % block != 0) {
    fail("cannot quantize {} values to {}: the count must be a multiple of {}", n, info.name,
         block);
  }
  const std::int64_t blocks = n / block;
  switch (type) {
    case TensorType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
      return;
    case TensorType::F16:
      for (std::int64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, fp32_to_fp16(src[i]));
      return;
    case TensorType::BF16:
      for (std::int64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, fp32_to_bf16(src[i]));
      return;
    case TensorType::Q8_0:
      quantize_q8_0(src, dst, blocks);
      return;
    case TensorType::Q4_0:
      quantize_q4_0(src, dst, blocks);
      return;
    case TensorType::Q4_K:
      quantize_q4_k(src, dst, blocks);
      return;
    case TensorType::Q6_K:
      quantize_q6_k(src, dst, blocks);
      return;
    case TensorType::MXFP4:
      quantize_mxfp4(src, dst, blocks);
      return;
  }
  fail("cannot quantize to tensor type id {}", static_cast<std::uint32_t>(type));
}

}  // namespace lockstep::numerics
