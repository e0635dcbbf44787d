// Q4_K / Q6_K: weight repacking (layout in kquant_layout.h), activation quantization (one
// portable routine, so every ISA sees the same bytes), the portable kernel, and dispatch.
#include "cpu/kernels/kquant_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "cpu/kernels/kquant_layout.h"
#include "numerics/half.h"

namespace lockstep::cpu::kernels {
namespace {

using numerics::TensorType;
using namespace kquant;

constexpr std::size_t kGgufQ4Bytes = 144;
constexpr std::size_t kGgufQ6Bytes = 210;

std::size_t round_up_64(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

// ---- packing -------------------------------------------------------------------------------

std::size_t q4k_packed_bytes(std::int64_t rows, std::int64_t cols) {
  return round_up_64(static_cast<std::size_t>(rows * (cols / kBlock)) *
                     (kQ4QuantBytes + kQ4MetaBytes));
}

std::size_t q6k_packed_bytes(std::int64_t rows, std::int64_t cols) {
  return round_up_64(static_cast<std::size_t>(rows * (cols / kBlock)) *
                     (kQ6QuantBytes + kQ6MetaBytes));
}

// Writes values q[256] (natural order, 0..15 or 0..63) as lane-order nibbles (128 B) and, when
// qh is given, the high 2 bits (64 B).
void store_lane_order(const std::uint8_t* q, std::uint8_t* lo, std::uint8_t* qh) {
  std::memset(lo, 0, 128);
  if (qh != nullptr) std::memset(qh, 0, 64);
  for (int p = 0; p < 256; ++p) {
    const int k = p / 64;
    const int j = p % 64;
    const std::uint8_t v = q[natural_index(p)];
    const int byte = (k / 2) * 64 + j;
    lo[byte] |= static_cast<std::uint8_t>((v & 0xF) << (4 * (k % 2)));
    if (qh != nullptr) qh[j] |= static_cast<std::uint8_t>(((v >> 4) & 3) << (2 * k));
  }
}

void pack_q4k(const std::uint8_t* src, std::uint8_t* dst, std::int64_t rows, std::int64_t cols,
              std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  std::uint8_t* meta_base = dst + static_cast<std::size_t>(rows * nb) * kQ4QuantBytes;
  for (std::int64_t o = row_begin; o < row_end; ++o) {
    for (std::int64_t b = 0; b < nb; ++b) {
      const std::uint8_t* blk = src + static_cast<std::size_t>(o * nb + b) * kGgufQ4Bytes;
      const std::uint8_t* scales = blk + 4;
      const std::uint8_t* qs = blk + 16;
      std::uint8_t* meta = meta_base + static_cast<std::size_t>(o * nb + b) * kQ4MetaBytes;
      for (int s = 0; s < 8; ++s) {  // ggml's get_scale_min_k4
        if (s < 4) {
          meta[s] = scales[s] & 63;
          meta[8 + s] = scales[s + 4] & 63;
        } else {
          meta[s] = static_cast<std::uint8_t>((scales[s + 4] & 0xF) | ((scales[s - 4] >> 6) << 4));
          meta[8 + s] = static_cast<std::uint8_t>((scales[s + 4] >> 4) | ((scales[s] >> 6) << 4));
        }
      }
      std::memcpy(meta + 16, blk, 4);  // fp16 d, fp16 dmin
      std::uint8_t q[256];
      for (int i = 0; i < 256; ++i) {
        const int s = i / 32;
        const std::uint8_t byte = qs[32 * (s / 2) + i % 32];
        q[i] = (s % 2 == 0) ? (byte & 0xF) : (byte >> 4);
      }
      store_lane_order(q, dst + static_cast<std::size_t>(o * nb + b) * kQ4QuantBytes, nullptr);
    }
  }
}

void pack_q6k(const std::uint8_t* src, std::uint8_t* dst, std::int64_t rows, std::int64_t cols,
              std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  std::uint8_t* meta_base = dst + static_cast<std::size_t>(rows * nb) * kQ6QuantBytes;
  for (std::int64_t o = row_begin; o < row_end; ++o) {
    for (std::int64_t b = 0; b < nb; ++b) {
      const std::uint8_t* blk = src + static_cast<std::size_t>(o * nb + b) * kGgufQ6Bytes;
      std::uint8_t* meta = meta_base + static_cast<std::size_t>(o * nb + b) * kQ6MetaBytes;
      std::memcpy(meta, blk + 192, 16);  // int8 scales, one per natural group of 16
      std::memcpy(meta + 16, blk + 208, 2);  // fp16 d
      std::uint8_t q[256];
      for (int i = 0; i < 256; ++i) {
        const int half = i / 128;
        const int kk = (i % 128) / 32;
        const int l = i % 32;
        const std::uint8_t* ql = blk + 64 * half;
        const std::uint8_t* qh = blk + 128 + 32 * half;
        const std::uint8_t lbyte = ql[l + 32 * (kk % 2)];
        const int low = (kk < 2) ? (lbyte & 0xF) : (lbyte >> 4);
        q[i] = static_cast<std::uint8_t>(low | (((qh[l] >> (2 * kk)) & 3) << 4));
      }
      std::uint8_t* quants = dst + static_cast<std::size_t>(o * nb + b) * kQ6QuantBytes;
      store_lane_order(q, quants, quants + 128);
    }
  }
}

std::size_t activation_row_bytes(std::int64_t cols) {
  return round_up_64(static_cast<std::size_t>(cols / kBlock) * (256 + 32 + 4));
}

// ---- activations ---------------------------------------------------------------------------

// Per super-block: d = amax / 127 (as 1 / (127 / amax)), q = round-to-nearest-even(x * 127 /
// amax), clamped to -127..127 (symmetric, so that |q| <= 127 bounds the integer sums the
// kernels keep in 16 bits). A zero block gets d = 0, q = 0. Plain scalar code: every ISA uses
// this one routine, so the bytes cannot differ between them.
void prepare_activation(const float* x, std::uint8_t* out, std::int64_t cols) {
  const std::int64_t nb = cols / kBlock;
  auto* q = reinterpret_cast<std::int8_t*>(out);
  auto* bsums = reinterpret_cast<std::int16_t*>(out + act_bsums_offset(nb));
  auto* d = reinterpret_cast<float*>(out + act_d_offset(nb));
  for (std::int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kBlock;
    float amax = 0.0f;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(xb[i]));
    std::int8_t natural[256];
    if (amax == 0.0f) {
      std::memset(natural, 0, sizeof natural);
      d[b] = 0.0f;
    } else {
      const float iscale = 127.0f / amax;
      for (int i = 0; i < 256; ++i) {
        const float v = std::nearbyint(xb[i] * iscale);
        natural[i] = static_cast<std::int8_t>(std::clamp(v, -127.0f, 127.0f));
      }
      d[b] = 1.0f / iscale;
    }
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += natural[16 * g + i];
      bsums[b * 16 + g] = static_cast<std::int16_t>(sum);
    }
    for (int p = 0; p < 256; ++p) q[b * kBlock + p] = natural[natural_index(p)];
  }
  const std::size_t used = act_d_offset(nb) + static_cast<std::size_t>(nb) * 4;
  std::memset(out + used, 0, activation_row_bytes(cols) - used);
}

// ---- portable kernels ----------------------------------------------------------------------

// Per super-block, exact integer sums (S1 = sum over groups of sc * q.a, S2 = sum of m * bsum
// for Q4_K; S = sum of sc * (q.a - 32 * bsum) for Q6_K), then one fp32 step per super-block in
// super-block order: acc = acc + (xd * d) * S1 - (xd * dmin) * S2.
// isum[g] = sum over group g (16 values) of weight value * activation for one super-block (wq:
// packed quants, aq: its 256 activations, both in lane order); kQ6: add Q6_K's two high bits.
template <bool kQ6>
static inline __attribute__((always_inline)) void group_dots(std::int32_t (&isum)[16],
                                                             const std::uint8_t* wq,
                                                             const std::int8_t* aq) {
  for (int p = 0; p < 256; ++p) {
    const int k = p / 64;
    const int j = p % 64;
    int v = (wq[(k / 2) * 64 + j] >> (4 * (k % 2))) & 0xF;
    if (kQ6) v |= ((wq[128 + j] >> (2 * k)) & 3) << 4;
    isum[j / 4] += v * aq[p];
  }
}

// The loop both types share: for every output (row o, token t), one fp32 accumulator stepped by
// block(acc, wq, meta, aq, bsums, xd, b) for super-block b = 0, 1, ... in order (wq, meta: the
// packed super-block; aq, bsums, xd: token t's activation row).
template <std::size_t QuantBytes, std::size_t MetaBytes, class Block>
void matmul_portable(const PackedMatrix& w, const std::uint8_t* x, std::size_t x_stride, float* y,
                     std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                     std::int64_t row_end, Block block) {
  const std::int64_t nb = w.cols / kBlock;
  const std::uint8_t* meta_base = w.data + static_cast<std::size_t>(w.rows * nb) * QuantBytes;
  for (std::int64_t o = row_begin; o < row_end; ++o) {
    for (std::int64_t t = 0; t < n; ++t) {
      const std::uint8_t* xt = x + static_cast<std::size_t>(t) * x_stride;
      const auto* aq = reinterpret_cast<const std::int8_t*>(xt);
      const auto* bsums = reinterpret_cast<const std::int16_t*>(xt + act_bsums_offset(nb));
      const auto* xd = reinterpret_cast<const float*>(xt + act_d_offset(nb));
      float acc = 0.0f;
      for (std::int64_t b = 0; b < nb; ++b) {
        const std::uint8_t* wq = w.data + static_cast<std::size_t>(o * nb + b) * QuantBytes;
        const std::uint8_t* meta = meta_base + static_cast<std::size_t>(o * nb + b) * MetaBytes;
        acc = block(acc, wq, meta, aq, bsums, xd, b);
      }
      y[static_cast<std::size_t>(t) * y_stride + static_cast<std::size_t>(o)] = acc;
    }
  }
}

void matmul_q4k_portable(const PackedMatrix& w, const std::uint8_t* x, std::size_t x_stride,
                         float* y, std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                         std::int64_t row_end) {
  matmul_portable<kQ4QuantBytes, kQ4MetaBytes>(
      w, x, x_stride, y, y_stride, n, row_begin, row_end,
      [](float acc, const std::uint8_t* wq, const std::uint8_t* meta, const std::int8_t* aq,
         const std::int16_t* bsums, const float* xd, std::int64_t b)
          __attribute__((always_inline)) {
        std::int32_t isum[16] = {};
        group_dots<false>(isum, wq, aq + b * kBlock);
        std::int32_t s1 = 0;
        std::int32_t s2 = 0;
        for (int g = 0; g < 16; ++g) {
          s1 += meta[g / 2] * isum[g];
          s2 += meta[8 + g / 2] * bsums[b * 16 + g];
        }
        const float d = numerics::fp16_to_fp32(load_u16(meta + 16));
        const float dmin = numerics::fp16_to_fp32(load_u16(meta + 18));
        acc = acc + (xd[b] * d) * static_cast<float>(s1);
        acc = acc - (xd[b] * dmin) * static_cast<float>(s2);
        return acc;
      });
}

void matmul_q6k_portable(const PackedMatrix& w, const std::uint8_t* x, std::size_t x_stride,
                         float* y, std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                         std::int64_t row_end) {
  matmul_portable<kQ6QuantBytes, kQ6MetaBytes>(
      w, x, x_stride, y, y_stride, n, row_begin, row_end,
      [](float acc, const std::uint8_t* wq, const std::uint8_t* meta, const std::int8_t* aq,
         const std::int16_t* bsums, const float* xd, std::int64_t b)
          __attribute__((always_inline)) {
        std::int32_t isum[16] = {};
        group_dots<true>(isum, wq, aq + b * kBlock);
        std::int32_t s = 0;
        for (int g = 0; g < 16; ++g) {
          s += static_cast<std::int8_t>(meta[g]) * (isum[g] - 32 * bsums[b * 16 + g]);
        }
        const float d = numerics::fp16_to_fp32(load_u16(meta + 16));
        return acc + (xd[b] * d) * static_cast<float>(s);
      });
}

template <MatmulFn fn>
void matmul_simd(const PackedMatrix& w, const std::uint8_t* x, std::size_t x_stride, float* y,
                 std::size_t y_stride, std::int64_t n, std::int64_t row_begin,
                 std::int64_t row_end) {
  fn(w.data, w.rows, w.cols, x, x_stride, y, y_stride, n, row_begin, row_end);
}

const WeightFormat kQ4KFormat{TensorType::Q4_K, q4k_packed_bytes, pack_q4k, activation_row_bytes};
const WeightFormat kQ6KFormat{TensorType::Q6_K, q6k_packed_bytes, pack_q6k, activation_row_bytes};

const MatmulKernel kQ4KPortable{prepare_activation, matmul_q4k_portable};
const MatmulKernel kQ6KPortable{prepare_activation, matmul_q6k_portable};
const MatmulKernel kQ4KAvx2{prepare_activation, matmul_simd<matmul_q4k_avx2>};
const MatmulKernel kQ6KAvx2{prepare_activation, matmul_simd<matmul_q6k_avx2>};
const MatmulKernel kQ4KAvx512{prepare_activation, matmul_simd<matmul_q4k_avx512>};
const MatmulKernel kQ6KAvx512{prepare_activation, matmul_simd<matmul_q6k_avx512>};

}  // namespace

const WeightFormat& kquant_weight_format(TensorType type) {
  switch (type) {
    case TensorType::Q4_K: return kQ4KFormat;
    case TensorType::Q6_K: return kQ6KFormat;
    default: break;
  }
  fail("the Q4_K/Q6_K kernels do not handle tensor type id {}", static_cast<std::uint32_t>(type));
}

const MatmulKernel& kquant_matmul_kernel(TensorType type, Isa isa) {
  const bool q4 = type == TensorType::Q4_K;
  if (!q4 && type != TensorType::Q6_K) {
    fail("the Q4_K/Q6_K kernels do not handle tensor type id {}", static_cast<std::uint32_t>(type));
  }
  switch (isa) {
    case Isa::Portable: return q4 ? kQ4KPortable : kQ6KPortable;
    case Isa::Avx2: return q4 ? kQ4KAvx2 : kQ6KAvx2;
    case Isa::Avx512: return q4 ? kQ4KAvx512 : kQ6KAvx512;
  }
  fail("unknown ISA level {}", static_cast<int>(isa));
}

}  // namespace lockstep::cpu::kernels
