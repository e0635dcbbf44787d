// VXM / SXM opcode arithmetic on whole vectors: every opcode on chosen values, the rounding cases
// the contract names (no fused multiply-add, ties to even, saturation), NaN and signed zeros.
#include "lpu/sim/vector_alu.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"
#include "numerics/half.h"

namespace lockstep::lpu {
namespace {

constexpr int kBytes = 320;
constexpr int kLanes = 80;

// A vector of f32 lanes.
struct F32Vector {
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(kBytes, 0);
  F32Vector() = default;
  explicit F32Vector(float fill) {
    for (int l = 0; l < kLanes; ++l) set(l, fill);
  }
  void set(int lane, float x) { std::memcpy(bytes.data() + 4 * lane, &x, 4); }
  float get(int lane) const {
    float x;
    std::memcpy(&x, bytes.data() + 4 * lane, 4);
    return x;
  }
  const std::uint8_t* data() const { return bytes.data(); }
};

F32Vector lanes_from(float base, float step) {
  F32Vector v;
  for (int l = 0; l < kLanes; ++l) v.set(l, base + step * l);
  return v;
}

F32Vector run(Opcode op, std::vector<const F32Vector*> in, std::int32_t imm = 0, float fimm = 0) {
  std::vector<const std::uint8_t*> ptrs;
  for (const F32Vector* v : in) ptrs.push_back(v->data());
  F32Vector out;
  execute_vector_op(op, ptrs, out.bytes.data(), kBytes, imm, fimm);
  return out;
}

TEST(VectorAluTest, BinaryArithmeticPerLane) {
  const F32Vector a = lanes_from(1.0f, 0.5f);
  const F32Vector b = lanes_from(-3.0f, 0.25f);
  const F32Vector add = run(Opcode::Add, {&a, &b});
  const F32Vector sub = run(Opcode::Sub, {&a, &b});
  const F32Vector mul = run(Opcode::Mul, {&a, &b});
  const F32Vector div = run(Opcode::Div, {&a, &b});
  const F32Vector max = run(Opcode::Max, {&a, &b});
  const F32Vector min = run(Opcode::Min, {&a, &b});
  for (int l = 0; l < kLanes; ++l) {
    EXPECT_EQ(add.get(l), a.get(l) + b.get(l));
    EXPECT_EQ(sub.get(l), a.get(l) - b.get(l));
    EXPECT_EQ(mul.get(l), a.get(l) * b.get(l));
    EXPECT_EQ(div.get(l), a.get(l) / b.get(l));
    EXPECT_EQ(max.get(l), std::max(a.get(l), b.get(l)));
    EXPECT_EQ(min.get(l), std::min(a.get(l), b.get(l)));
  }
}

TEST(VectorAluTest, ImmediatesAndUnaryOps) {
  const F32Vector a = lanes_from(-2.0f, 0.125f);
  const F32Vector addi = run(Opcode::AddImm, {&a}, 0, 1.5f);
  const F32Vector muli = run(Opcode::MulImm, {&a}, 0, -3.0f);
  const F32Vector abs = run(Opcode::Abs, {&a});
  const F32Vector exp = run(Opcode::Exp, {&a});
  const F32Vector positive = lanes_from(0.25f, 0.5f);
  const F32Vector rsqrt = run(Opcode::Rsqrt, {&positive});
  const F32Vector move = run(Opcode::Move, {&a});
  for (int l = 0; l < kLanes; ++l) {
    EXPECT_EQ(addi.get(l), a.get(l) + 1.5f);
    EXPECT_EQ(muli.get(l), a.get(l) * -3.0f);
    EXPECT_EQ(abs.get(l), std::fabs(a.get(l)));
    EXPECT_EQ(exp.get(l), std::exp(a.get(l)));
    EXPECT_EQ(rsqrt.get(l), 1.0f / std::sqrt(positive.get(l)));
  }
  EXPECT_EQ(move.bytes, a.bytes);
  EXPECT_EQ(rsqrt.get(0), 2.0f);  // 1 / sqrt(0.25)
}

// MulAdd rounds the product to f32 before the add: with a = b = 1 + 2^-13 the exact product
// 1 + 2^-12 + 2^-26 rounds to 1 + 2^-12, so adding -(1 + 2^-12) gives exactly 0 (a fused
// multiply-add would give 2^-26).
TEST(VectorAluTest, MulAddIsNotFused) {
  const float a = 1.0f + std::ldexp(1.0f, -13);
  const F32Vector x(a), y(a), z(-(1.0f + std::ldexp(1.0f, -12)));
  const F32Vector out = run(Opcode::MulAdd, {&x, &y, &z});
  for (int l = 0; l < kLanes; ++l) EXPECT_EQ(out.get(l), 0.0f);
  EXPECT_NE(std::fma(a, a, z.get(0)), 0.0f);  // what contraction would have produced
}

TEST(VectorAluTest, SelectEqualMaxMinEdgeCases) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  F32Vector s, a(1.0f), b(2.0f);
  s.set(0, 0.0f);
  s.set(1, -0.0f);
  s.set(2, nan);
  s.set(3, -5.0f);
  const F32Vector sel = run(Opcode::Select, {&s, &a, &b});
  EXPECT_EQ(sel.get(0), 2.0f);  // 0 -> in2
  EXPECT_EQ(sel.get(1), 2.0f);  // -0 == 0 -> in2
  EXPECT_EQ(sel.get(2), 1.0f);  // NaN != 0 -> in1
  EXPECT_EQ(sel.get(3), 1.0f);

  F32Vector p, q;
  p.set(0, nan);
  q.set(0, 1.0f);
  p.set(1, 1.0f);
  q.set(1, nan);
  p.set(2, 0.0f);
  q.set(2, -0.0f);
  p.set(3, 3.0f);
  q.set(3, 3.0f);
  const F32Vector max = run(Opcode::Max, {&p, &q});
  const F32Vector min = run(Opcode::Min, {&p, &q});
  const F32Vector eq = run(Opcode::Equal, {&p, &q});
  EXPECT_TRUE(std::isnan(max.get(0)));     // NaN in in0 propagates
  EXPECT_EQ(max.get(1), 1.0f);             // NaN in in1 yields in0
  EXPECT_FALSE(std::signbit(max.get(2)));  // tie: in0 wins
  EXPECT_TRUE(std::isnan(min.get(0)));
  EXPECT_EQ(min.get(1), 1.0f);
  EXPECT_FALSE(std::signbit(min.get(2)));
  EXPECT_EQ(eq.get(0), 0.0f);
  EXPECT_EQ(eq.get(1), 0.0f);
  EXPECT_EQ(eq.get(2), 1.0f);  // +0 == -0
  EXPECT_EQ(eq.get(3), 1.0f);

  F32Vector n;
  n.set(0, -nan);
  const F32Vector abs = run(Opcode::Abs, {&n});
  EXPECT_EQ(std::bit_cast<std::uint32_t>(abs.get(0)),
            std::bit_cast<std::uint32_t>(-nan) & 0x7fffffffu);
}

TEST(VectorAluTest, ConvertF32ToF16PacksTwoVectorsWithRoundToNearestEven) {
  const F32Vector lo = lanes_from(0.1f, 1.0f);
  const F32Vector hi = lanes_from(-70000.0f, 1000.0f);
  const F32Vector out = run(Opcode::ConvertF32ToF16, {&lo, &hi});
  for (int l = 0; l < kLanes; ++l) {
    std::uint16_t a, b;
    std::memcpy(&a, out.bytes.data() + 2 * l, 2);
    std::memcpy(&b, out.bytes.data() + 2 * (kLanes + l), 2);
    EXPECT_EQ(a, numerics::fp32_to_fp16(lo.get(l)));
    EXPECT_EQ(b, numerics::fp32_to_fp16(hi.get(l)));
  }
  std::uint16_t first_hi;
  std::memcpy(&first_hi, out.bytes.data() + 2 * kLanes, 2);
  EXPECT_EQ(first_hi, 0xFC00);  // -70000 overflows to -inf
}

TEST(VectorAluTest, ConvertF16ToF32TakesTheHalfNamedByImm) {
  F32Vector packed;
  for (int l = 0; l < 2 * kLanes; ++l) {
    const std::uint16_t h = numerics::fp32_to_fp16(static_cast<float>(l) - 100.5f);
    std::memcpy(packed.bytes.data() + 2 * l, &h, 2);
  }
  const F32Vector low = run(Opcode::ConvertF16ToF32, {&packed}, 0);
  const F32Vector high = run(Opcode::ConvertF16ToF32, {&packed}, 1);
  for (int l = 0; l < kLanes; ++l) {
    EXPECT_EQ(low.get(l), static_cast<float>(l) - 100.5f);
    EXPECT_EQ(high.get(l), static_cast<float>(kLanes + l) - 100.5f);
  }
  EXPECT_THROW(run(Opcode::ConvertF16ToF32, {&packed}, 2), Error);
}

TEST(VectorAluTest, ConvertF32ToI8RoundsHalfToEvenAndSaturatesSymmetrically) {
  EXPECT_EQ(convert_f32_to_i8(0.5f), 0);
  EXPECT_EQ(convert_f32_to_i8(1.5f), 2);
  EXPECT_EQ(convert_f32_to_i8(2.5f), 2);
  EXPECT_EQ(convert_f32_to_i8(-2.5f), -2);
  EXPECT_EQ(convert_f32_to_i8(-0.5f), 0);
  EXPECT_EQ(convert_f32_to_i8(126.6f), 127);
  EXPECT_EQ(convert_f32_to_i8(127.5f), 127);
  EXPECT_EQ(convert_f32_to_i8(1e9f), 127);
  EXPECT_EQ(convert_f32_to_i8(-128.0f), -127);
  EXPECT_EQ(convert_f32_to_i8(-std::numeric_limits<float>::infinity()), -127);
  EXPECT_EQ(convert_f32_to_i8(std::numeric_limits<float>::quiet_NaN()), 0);

  F32Vector in[4];
  for (int k = 0; k < 4; ++k) in[k] = lanes_from(static_cast<float>(k * 10) - 0.5f, 1.0f);
  const F32Vector out = run(Opcode::ConvertF32ToI8, {&in[0], &in[1], &in[2], &in[3]});
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < kLanes; ++l)
      EXPECT_EQ(static_cast<std::int8_t>(out.bytes[k * kLanes + l]),
                convert_f32_to_i8(in[k].get(l)));
}

TEST(VectorAluTest, ConvertI32ToF32RoundsToNearestEven) {
  F32Vector in;
  const std::int32_t values[] = {0, -7, 16777217, 16777219,
                                 std::numeric_limits<std::int32_t>::min()};
  for (int l = 0; l < 5; ++l) std::memcpy(in.bytes.data() + 4 * l, &values[l], 4);
  const F32Vector out = run(Opcode::ConvertI32ToF32, {&in});
  EXPECT_EQ(out.get(0), 0.0f);
  EXPECT_EQ(out.get(1), -7.0f);
  EXPECT_EQ(out.get(2), 16777216.0f);  // tie -> even
  EXPECT_EQ(out.get(3), 16777220.0f);  // tie -> even
  EXPECT_EQ(out.get(4), -2147483648.0f);
}

TEST(VectorAluTest, RotateAndDistribute) {
  const F32Vector a = lanes_from(0.0f, 1.0f);
  const F32Vector r3 = run(Opcode::Rotate, {&a}, 3);
  const F32Vector rm1 = run(Opcode::Rotate, {&a}, -1);
  const F32Vector d = run(Opcode::Distribute, {&a}, 17);
  for (int l = 0; l < kLanes; ++l) {
    EXPECT_EQ(r3.get(l), static_cast<float>((l + 3) % kLanes));
    EXPECT_EQ(rm1.get(l), static_cast<float>((l + kLanes - 1) % kLanes));
    EXPECT_EQ(d.get(l), 17.0f);
  }
  EXPECT_THROW(run(Opcode::Distribute, {&a}, kLanes), Error);
}

TEST(VectorAluTest, RefusesOpcodesOfOtherUnits) {
  const F32Vector a(1.0f);
  EXPECT_THROW(run(Opcode::Read, {&a}), Error);
  EXPECT_THROW(run(Opcode::Compute, {&a}), Error);
}

}  // namespace
}  // namespace lockstep::lpu
