// fp16 / bf16 conversions: exhaustive round trips, exact rounding boundaries (ties to even) for
// every pair of neighbouring representable values, overflow, underflow and NaN handling.
#include "numerics/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace lockstep::numerics {
namespace {

bool fp16_is_nan(std::uint16_t h) { return (h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0; }
bool bf16_is_nan(std::uint16_t h) { return (h & 0x7F80) == 0x7F80 && (h & 0x007F) != 0; }

static_assert(fp16_to_fp32(0x3C00) == 1.0f);
static_assert(fp32_to_fp16(1.0f) == 0x3C00);
static_assert(bf16_to_fp32(0x3F80) == 1.0f);
static_assert(fp32_to_bf16(1.0f) == 0x3F80);

TEST(HalfTest, Fp16KnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(fp16_to_fp32(0x8000)));
  EXPECT_EQ(fp16_to_fp32(0x3C00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xC000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x3555), 0.333251953125f);
  EXPECT_EQ(fp16_to_fp32(0x7BFF), 65504.0f);                // largest finite
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));   // smallest normal
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));   // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(fp16_to_fp32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_fp32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7E00)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7C01)));  // signalling NaN stays NaN, not inf
}

// Every one of the 65536 patterns survives fp16 -> fp32 -> fp16 unchanged (NaNs included: the
// payload is kept), and the widened value has the expected sign and magnitude.
TEST(HalfTest, Fp16RoundTripAllPatterns) {
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<std::uint16_t>(i);
    const float f = fp16_to_fp32(h);
    if (fp16_is_nan(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      ASSERT_TRUE(fp16_is_nan(fp32_to_fp16(f))) << std::hex << i;
    } else {
      ASSERT_FALSE(std::isnan(f)) << std::hex << i;
    }
    ASSERT_EQ(fp32_to_fp16(f), h) << std::hex << i;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << i;
  }
}

// For every two neighbouring finite fp16 values a < b (both signs, subnormals included): their
// midpoint (exact in fp32) rounds to the one with an even mantissa, and the fp32 values just
// below and just above the midpoint round to a and b.
TEST(HalfTest, Fp16RoundsToNearestTiesToEven) {
  for (std::uint16_t sign : {std::uint16_t{0}, std::uint16_t{0x8000}}) {
    for (std::uint32_t m = 0; m < 0x7BFF; ++m) {
      const auto lo = static_cast<std::uint16_t>(sign | m);
      const auto hi = static_cast<std::uint16_t>(sign | (m + 1));
      const float a = fp16_to_fp32(lo);
      const float b = fp16_to_fp32(hi);
      const float mid = (a + b) / 2;  // exact: at most 12 significant bits
      ASSERT_EQ(static_cast<double>(mid), (static_cast<double>(a) + b) / 2);
      const std::uint16_t even = (m & 1) ? hi : lo;
      ASSERT_EQ(fp32_to_fp16(mid), even) << std::hex << m;
      ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, a)), lo) << std::hex << m;
      ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, b)), hi) << std::hex << m;
    }
  }
}

TEST(HalfTest, Fp16OverflowAndUnderflow) {
  const float inf = std::numeric_limits<float>::infinity();
  // 65520 is halfway between 65504 (odd mantissa) and 2^16, so it rounds up to infinity.
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(inf), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-inf), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::max()), 0x7C00);
  // 2^-25 is halfway between 0 and the smallest subnormal: ties to even gives zero.
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(-std::ldexp(1.0f, -26)), 0x8000);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  // Rounding the largest subnormal range up carries into the smallest normal.
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1023.5f, -24)), 0x0400);
}

TEST(HalfTest, Fp16NanStaysNan) {
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(fp16_is_nan(fp32_to_fp16(qnan)));
  EXPECT_TRUE(fp16_is_nan(fp32_to_fp16(-qnan)));
  EXPECT_EQ(fp32_to_fp16(-qnan) & 0x8000, 0x8000);
  // An fp32 NaN whose payload lives only in the low 13 bits must not become infinity.
  EXPECT_TRUE(fp16_is_nan(fp32_to_fp16(std::bit_cast<float>(0x7F800001u))));
  EXPECT_TRUE(fp16_is_nan(fp32_to_fp16(std::bit_cast<float>(0xFF800FFFu))));
}

#ifdef __FLT16_MAX__
// Against the compiler's own IEEE conversion (_Float16, libgcc's round-to-nearest-even), over a
// strided sweep of all 2^32 fp32 patterns.
TEST(HalfTest, Fp16MatchesCompilerConversion) {
  for (std::uint64_t i = 0; i < (1ull << 32); i += 1021) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(i));
    if (std::isnan(f)) continue;
    const auto expected = std::bit_cast<std::uint16_t>(static_cast<_Float16>(f));
    ASSERT_EQ(fp32_to_fp16(f), expected) << std::hex << i;
  }
}
#endif

TEST(HalfTest, Bf16KnownValues) {
  EXPECT_EQ(bf16_to_fp32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_fp32(0xC040), -3.0f);
  EXPECT_EQ(bf16_to_fp32(0x7F7F), std::bit_cast<float>(0x7F7F0000u));
  EXPECT_EQ(bf16_to_fp32(0x0001), std::bit_cast<float>(0x00010000u));  // subnormal
  EXPECT_EQ(bf16_to_fp32(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16_to_fp32(0x7FC0)));
  EXPECT_EQ(fp32_to_bf16(3.14159265f), 0x4049);
  EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
}

TEST(HalfTest, Bf16RoundTripAllPatterns) {
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<std::uint16_t>(i);
    const float f = bf16_to_fp32(h);
    if (bf16_is_nan(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      const std::uint16_t back = fp32_to_bf16(f);
      ASSERT_TRUE(bf16_is_nan(back)) << std::hex << i;
      ASSERT_EQ(back & 0x8000, h & 0x8000) << std::hex << i;
    } else {
      ASSERT_EQ(fp32_to_bf16(f), h) << std::hex << i;
    }
  }
}

// As for fp16: every midpoint between neighbouring finite bf16 values (including the one between
// the largest finite value and infinity) rounds to even; its fp32 neighbours round to the sides.
TEST(HalfTest, Bf16RoundsToNearestTiesToEven) {
  for (std::uint32_t sign : {0u, 0x8000u}) {
    for (std::uint32_t m = 0; m < 0x7F80; ++m) {
      const auto lo = static_cast<std::uint16_t>(sign | m);
      const auto hi = static_cast<std::uint16_t>(sign | (m + 1));  // m + 1 == 0x7F80: infinity
      const float mid = std::bit_cast<float>(((sign | m) << 16) | 0x8000u);  // exact midpoint
      const std::uint16_t even = (m & 1) ? hi : lo;
      ASSERT_EQ(fp32_to_bf16(mid), even) << std::hex << m;
      ASSERT_EQ(fp32_to_bf16(std::bit_cast<float>(std::bit_cast<std::uint32_t>(mid) - 1)), lo)
          << std::hex << m;
      ASSERT_EQ(fp32_to_bf16(std::bit_cast<float>(std::bit_cast<std::uint32_t>(mid) + 1)), hi)
          << std::hex << m;
    }
  }
}

TEST(HalfTest, Bf16NanStaysNan) {
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(bf16_is_nan(fp32_to_bf16(qnan)));
  EXPECT_EQ(fp32_to_bf16(-qnan) & 0x8000, 0x8000);
  // Payload only in the 16 dropped bits: forced quiet, so still NaN rather than infinity.
  EXPECT_TRUE(bf16_is_nan(fp32_to_bf16(std::bit_cast<float>(0x7F800001u))));
  EXPECT_TRUE(bf16_is_nan(fp32_to_bf16(std::bit_cast<float>(0xFF80FFFFu))));
  // Rounding never carries a NaN into the sign bit or turns it into infinity.
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7FFFFFFFu)), 0x7FFF);
}

}  // namespace
}  // namespace lockstep::numerics
