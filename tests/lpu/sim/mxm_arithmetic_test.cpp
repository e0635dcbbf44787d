// The MXM plane's matrix-vector product: I8 exactly, rows beyond the installed count zero,
// accumulation, and the F16 summation order the contract fixes.
#include "lpu/sim/mxm_arithmetic.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/error.h"
#include "numerics/half.h"

namespace lockstep::lpu {
namespace {

constexpr int kBytes = 320;

std::vector<std::int32_t> as_i32(const std::vector<std::uint8_t>& acc) {
  std::vector<std::int32_t> out(acc.size() / 4);
  std::memcpy(out.data(), acc.data(), acc.size());
  return out;
}
std::vector<float> as_f32(const std::vector<std::uint8_t>& acc) {
  std::vector<float> out(acc.size() / 4);
  std::memcpy(out.data(), acc.data(), acc.size());
  return out;
}

TEST(MxmArithmeticTest, I8MatrixVectorProductAndAccumulation) {
  const int rows = 320;
  std::vector<std::uint8_t> buffer(rows * kBytes);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < kBytes; ++k)
      buffer[r * kBytes + k] =
          static_cast<std::uint8_t>(static_cast<std::int8_t>((r * 7 + k * 3) % 255 - 127));
  std::vector<std::uint8_t> x(kBytes);
  for (int k = 0; k < kBytes; ++k)
    x[k] = static_cast<std::uint8_t>(static_cast<std::int8_t>((k * 13) % 256 - 128));
  const int installed = 300;
  MxmArray array;
  array.install(ElementType::I8, buffer.data(), rows, installed, kBytes);
  std::vector<std::uint8_t> acc(rows * 4, 0xAB);
  array.compute(x.data(), false, acc.data());
  std::vector<std::int32_t> expected(rows, 0);
  for (int r = 0; r < installed; ++r)
    for (int k = 0; k < kBytes; ++k)
      expected[r] +=
          static_cast<std::int8_t>(buffer[r * kBytes + k]) * static_cast<std::int8_t>(x[k]);
  EXPECT_EQ(as_i32(acc), expected);  // rows 300..319 are zero
  array.compute(x.data(), true, acc.data());
  for (auto& e : expected) e *= 2;
  EXPECT_EQ(as_i32(acc), expected);
}

// F16 sums run over k in index order from +0: 65504^2 first, then 159 products of 1, each of
// which is below half an ulp of 65504^2 (256) and so vanishes. Summing the small products first
// would give 65504^2 + 159, which rounds up to 65504^2 + 256.
TEST(MxmArithmeticTest, F16SumsInIndexOrderWithoutWidening) {
  const int rows = 320;
  std::vector<std::uint8_t> buffer(rows * kBytes, 0);
  std::vector<std::uint8_t> x(kBytes, 0);
  const std::uint16_t big = numerics::fp32_to_fp16(65504.0f);
  const std::uint16_t one = numerics::fp32_to_fp16(1.0f);
  for (int k = 0; k < kBytes / 2; ++k) {
    std::memcpy(buffer.data() + 2 * k, k == 0 ? &big : &one, 2);  // row 0
    std::memcpy(buffer.data() + kBytes + 2 * k, &one, 2);         // row 1: all ones
    std::memcpy(x.data() + 2 * k, k == 0 ? &big : &one, 2);
  }
  MxmArray array;
  array.install(ElementType::F16, buffer.data(), rows, rows, kBytes);
  std::vector<std::uint8_t> acc(rows * 4, 0);
  array.compute(x.data(), false, acc.data());
  const std::vector<float> out = as_f32(acc);
  EXPECT_EQ(out[0], 65504.0f * 65504.0f);
  EXPECT_EQ(out[1], 65504.0f + 159.0f);
  EXPECT_EQ(out[2], 0.0f);
  array.compute(x.data(), true, acc.data());
  EXPECT_EQ(as_f32(acc)[1], 2.0f * (65504.0f + 159.0f));
}

TEST(MxmArithmeticTest, InstallRefusesOtherElementTypes) {
  std::vector<std::uint8_t> buffer(320 * kBytes, 0);
  MxmArray array;
  EXPECT_THROW(array.install(ElementType::F32, buffer.data(), 320, 320, kBytes), Error);
  EXPECT_THROW(array.install(ElementType::I8, buffer.data(), 320, 321, kBytes), Error);
  EXPECT_THROW(array.compute(buffer.data(), false, buffer.data()), Error);
}

}  // namespace
}  // namespace lockstep::lpu
