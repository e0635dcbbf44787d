// IEEE binary16 (fp16) and bfloat16 (bf16) <-> binary32 (fp32) conversions, bit-exact and
// portable (integer bit manipulation only, no hardware half support, no dependence on the
// floating-point rounding mode).
//
// Contract:
// - Widening (fp16 -> fp32, bf16 -> fp32) is exact for every one of the 65536 bit patterns,
//   including subnormals, signed zeros, infinities and NaNs (the NaN payload is kept).
// - Narrowing (fp32 -> fp16, fp32 -> bf16) rounds to nearest, ties to even, like the hardware
//   conversions (F16C, ARM FCVT) and like ggml's reference GGML_FP32_TO_FP16 / GGML_FP32_TO_BF16
//   for every non-NaN input: overflow gives a signed infinity, fp16 underflow gives subnormals
//   or a signed zero.
// - NaN stays NaN, sign kept. fp16: the top 10 payload bits are kept; when they are all zero the
//   quiet bit is set so the result is not an infinity (so fp16 -> fp32 -> fp16 is the identity
//   on all 65536 patterns). bf16: as ggml, the top 7 payload bits are kept and the quiet bit is
//   forced (bits >> 16 | 0x40).
#pragma once

#include <bit>
#include <cstdint>

namespace lockstep::numerics {

constexpr float fp16_to_fp32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exponent == 0x1f) {  // infinity or NaN: all-ones exponent, payload moved up
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // signed zero
    bits = sign;
  } else {  // subnormal: mantissa * 2^-24, normalised into an fp32 normal
    std::uint32_t e = 113;  // exponent field of 2^-14, the smallest fp16 normal
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

constexpr std::uint16_t fp32_to_fp16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) {  // NaN
    std::uint32_t payload = (a >> 13) & 0x3ffu;
    if (payload == 0) payload = 0x200u;
    return static_cast<std::uint16_t>(sign | 0x7c00u | payload);
  }
  if (a >= 0x477ff000u) {  // >= 65520 (halfway between 65504 and 2^16, ties to even go up): inf
    return static_cast<std::uint16_t>(sign | 0x7c00u);
  }
  if (a >= 0x38800000u) {  // >= 2^-14: fp16 normal; rebias 127 -> 15 and round 13 bits away
    std::uint32_t h = (a >> 13) - (112u << 10);
    const std::uint32_t rest = a & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent
    return static_cast<std::uint16_t>(sign | h);
  }
  if (a <= 0x33000000u) {  // <= 2^-25 (half the smallest subnormal; the tie goes to even 0)
    return sign;
  }
  // fp16 subnormal: value in units of 2^-24 is mantissa * 2^(e - 126), e in [102, 112].
  const std::uint32_t e = a >> 23;
  const std::uint32_t mantissa = (a & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126u - e;  // 14 .. 24
  std::uint32_t h = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (h & 1u))) ++h;  // may become 0x400, the smallest normal
  return static_cast<std::uint16_t>(sign | h);
}

constexpr float bf16_to_fp32(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

constexpr std::uint16_t fp32_to_bf16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep sign and top payload, force quiet
    return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  }
  // Round to nearest even on the 16 dropped bits; overflow carries into inf correctly.
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace lockstep::numerics
