// MXFP4, the OCP microscaling 4-bit float format as ggml stores it (block_mxfp4): 32 values per
// 17-byte block, an E8M0 shared exponent and 16 bytes of E2M1 codes (numerics/dequantize.h and
// quantize.h use it; ../shared/fixtures/moe/README.md, section 4.3, states the layout).
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace lockstep::numerics {

// The E2M1 value of each 4-bit code, doubled (ggml's kvalues_mxfp4): code 8 is -0, kept as 0.
inline constexpr std::array<std::int8_t, 16> kMxfp4Values{0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// 2^(e - 128), the E8M0 exponent's scale halved to go with the doubled values: exact for every
// e (e = 0 and 1 are fp32 subnormals), as ggml_e8m0_to_fp32_half computes it.
constexpr float e8m0_to_fp32_half(std::uint8_t e) {
  const std::uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<std::uint32_t>(e) - 1u) << 23;
  return std::bit_cast<float>(bits);
}

}  // namespace lockstep::numerics
