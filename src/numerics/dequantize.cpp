#include "numerics/dequantize.h"

#include <cstring>

#include "core/error.h"
#include "numerics/half.h"
#include "numerics/mxfp4.h"

namespace lockstep::numerics {
namespace {

// Block layouts (ggml-common.h; all multi-byte fields little-endian, blocks packed, no padding):
//   block_q4_0 (18 B / 32 values): fp16 d; uint8 qs[16]. Value j < 16 is the low nibble of
//     qs[j], value j + 16 the high nibble; x = (nibble - 8) * d.
//   block_q8_0 (34 B / 32 values): fp16 d; int8 qs[32]; x = qs[j] * d.
//   block_q4_K (144 B / 256 values): fp16 d; fp16 dmin; uint8 scales[12] (8 pairs of 6-bit
//     scale/min, packed as get_scale_min_k4 reads them); uint8 qs[128]. Each 64 values use 32
//     bytes of qs: the low nibbles are the first 32 values (sub-block 2k), the high nibbles the
//     next 32 (sub-block 2k+1); x = d*sc * q - dmin*m.
//   block_q6_K (210 B / 256 values): uint8 ql[128] (low 4 bits); uint8 qh[64] (high 2 bits);
//     int8 scales[16] (one per 16 values); fp16 d; x = d * scale * (q - 32).
constexpr std::size_t kQ4_0Bytes = 18;
constexpr std::size_t kQ8_0Bytes = 34;
constexpr std::size_t kQ4_KBytes = 144;
constexpr std::size_t kQ6_KBytes = 210;

inline std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

inline float load_fp16(const std::uint8_t* p) { return fp16_to_fp32(load_u16(p)); }

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K block (ggml's get_scale_min_k4):
// j < 4: scale = q[j] & 63, min = q[j+4] & 63; j >= 4: the low 4 bits come from q[j+4]
// (scale: low nibble, min: high nibble), the top 2 bits from bits 6..7 of q[j-4] (scale) and
// q[j] (min).
inline void scale_min_k4(int j, const std::uint8_t* q, std::uint8_t& sc, std::uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void dequantize_q4_0(const std::uint8_t* src, float* dst, std::int64_t blocks) {
  for (std::int64_t i = 0; i < blocks; ++i, src += kQ4_0Bytes, dst += 32) {
    const float d = load_fp16(src);
    const std::uint8_t* qs = src + 2;
    for (int j = 0; j < 16; ++j) {
      const int x0 = (qs[j] & 0x0F) - 8;
      const int x1 = (qs[j] >> 4) - 8;
      dst[j] = static_cast<float>(x0) * d;
      dst[j + 16] = static_cast<float>(x1) * d;
    }
  }
}

void dequantize_q8_0(const std::uint8_t* src, float* dst, std::int64_t blocks) {
  for (std::int64_t i = 0; i < blocks; ++i, src += kQ8_0Bytes, dst += 32) {
    const float d = load_fp16(src);
    for (int j = 0; j < 32; ++j) {
      dst[j] = static_cast<float>(static_cast<std::int8_t>(src[2 + j])) * d;
    }
  }
}

void dequantize_q4_k(const std::uint8_t* src, float* dst, std::int64_t blocks) {
  for (std::int64_t i = 0; i < blocks; ++i, src += kQ4_KBytes) {
    const float d = load_fp16(src);
    const float dmin = load_fp16(src + 2);
    const std::uint8_t* scales = src + 4;
    const std::uint8_t* q = src + 16;
    for (int is = 0; is < 8; is += 2, q += 32) {
      std::uint8_t sc = 0, m = 0;
      scale_min_k4(is, scales, sc, m);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(m);
      scale_min_k4(is + 1, scales, sc, m);
      const float d2 = d * static_cast<float>(sc);
      const float m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequantize_q6_k(const std::uint8_t* src, float* dst, std::int64_t blocks) {
  for (std::int64_t i = 0; i < blocks; ++i, src += kQ6_KBytes) {
    const std::uint8_t* ql = src;
    const std::uint8_t* qh = src + 128;
    const std::uint8_t* sc_bytes = src + 192;
    const float d = load_fp16(src + 208);
    // Two halves of 128 values; in each, value l + 32*k (k = 0..3) takes ql bits from
    // ql[l] (k = 0 low, k = 2 high nibble) or ql[l+32] (k = 1 low, k = 3 high nibble), its
    // top 2 bits from bits 2k..2k+1 of qh[l], and scale sc[l/16 + 2k].
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc_bytes += 8, dst += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        const auto sc = [&](int k) {
          return static_cast<float>(static_cast<std::int8_t>(sc_bytes[is + k]));
        };
        // ggml evaluates d * sc * q left to right: (d * sc) * q.
        dst[l + 0] = d * sc(0) * static_cast<float>(q1);
        dst[l + 32] = d * sc(2) * static_cast<float>(q2);
        dst[l + 64] = d * sc(4) * static_cast<float>(q3);
        dst[l + 96] = d * sc(6) * static_cast<float>(q4);
      }
    }
  }
}

// MXFP4 (ggml's block_mxfp4, the OCP microscaling format): byte 0 is an E8M0 exponent e, then
// 16 bytes of 4-bit codes, element j (0..15) in the low nibble of byte 1 + j and element j + 16
// in its high nibble. value = kMxfp4Values[code] * 2^(e - 128): the E2M1 values doubled, so the
// scale is halved (ggml_e8m0_to_fp32_half). Both factors are exact, and so is their product.
void dequantize_mxfp4(const std::uint8_t* x, float* y, std::int64_t blocks) {
  for (std::int64_t i = 0; i < blocks; ++i, x += 17, y += 32) {
    const float d = e8m0_to_fp32_half(x[0]);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(kMxfp4Values[x[1 + j] & 0xF]) * d;
      y[j + 16] = static_cast<float>(kMxfp4Values[x[1 + j] >> 4]) * d;
    }
  }
}

}  // namespace

void dequantize_row(TensorType type, const std::uint8_t* src, float* dst, std::int64_t n) {
  const auto& info = tensor_type_info(type);
  const auto block = static_cast<std::int64_t>(info.block_values);
  if (n < 0 || n % block != 0) {
    fail("cannot dequantize {} values of type {}: the count must be a multiple of {}", n,
         info.name, block);
  }
  const std::int64_t blocks = n / block;
  switch (type) {
    case TensorType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
      return;
    case TensorType::F16:
      for (std::int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src + 2 * i));
      return;
    case TensorType::BF16:
      for (std::int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(src + 2 * i));
      return;
    case TensorType::Q4_0:
      dequantize_q4_0(src, dst, blocks);
      return;
    case TensorType::Q8_0:
      dequantize_q8_0(src, dst, blocks);
      return;
    case TensorType::Q4_K:
      dequantize_q4_k(src, dst, blocks);
      return;
    case TensorType::Q6_K:
      dequantize_q6_k(src, dst, blocks);
      return;
    case TensorType::MXFP4:
      dequantize_mxfp4(src, dst, blocks);
      return;
  }
  fail("cannot dequantize tensor type id {}", static_cast<std::uint32_t>(type));
}

}  // namespace lockstep::numerics
