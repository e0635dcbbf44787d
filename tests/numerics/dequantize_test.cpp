// Dequantization: hand-built blocks with known values pin each type's bit layout; the
// llama.cpp-made fixtures (quantized by llama-quantize --pure from an F32 master) must decode to
// within each type's quantization error of the master.
#include "numerics/dequantize.h"

#include <gtest/gtest.h>

#include "support/quantized_fixtures.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "format/gguf_file.h"
#include "numerics/half.h"

namespace lockstep::numerics {
namespace {

void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v & 0xFF);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

std::vector<float> decode(TensorType type, const std::vector<std::uint8_t>& bytes,
                          std::int64_t n) {
  std::vector<float> out(static_cast<std::size_t>(n), -12345.0f);
  dequantize_row(type, bytes.data(), out.data(), n);
  return out;
}

TEST(DequantizeTest, F32IsACopy) {
  const std::array<float, 3> values{1.5f, -0.0f, 3e38f};
  std::vector<std::uint8_t> bytes(sizeof(values));
  std::memcpy(bytes.data(), values.data(), sizeof(values));
  const auto out = decode(TensorType::F32, bytes, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(std::bit_cast<std::uint32_t>(out[i]),
                                        std::bit_cast<std::uint32_t>(values[i]));
}

TEST(DequantizeTest, F16AndBf16AreLittleEndianHalves) {
  // 1.0 = 0x3C00 (fp16) = 0x3F80 (bf16); -2.5 = 0xC100 (fp16) = 0xC020 (bf16).
  const std::vector<std::uint8_t> f16{0x00, 0x3C, 0x00, 0xC1, 0x01, 0x00};
  const auto a = decode(TensorType::F16, f16, 3);
  EXPECT_EQ(a[0], 1.0f);
  EXPECT_EQ(a[1], -2.5f);
  EXPECT_EQ(a[2], std::ldexp(1.0f, -24));
  const std::vector<std::uint8_t> bf16{0x80, 0x3F, 0x20, 0xC0};
  const auto b = decode(TensorType::BF16, bf16, 2);
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -2.5f);
}

// Q4_0: fp16 d, then 16 bytes; value j (< 16) is the low nibble of byte j, value j + 16 the high
// nibble; x = (nibble - 8) * d. Two blocks, to check that the second one starts at byte 18.
TEST(DequantizeTest, Q4_0Layout) {
  std::vector<std::uint8_t> bytes(36);
  put_u16(bytes.data(), 0x3800);        // d = 0.5
  put_u16(bytes.data() + 18, 0xC000);   // d = -2
  for (int j = 0; j < 16; ++j) {
    bytes[2 + j] = static_cast<std::uint8_t>(j | ((15 - j) << 4));
    bytes[20 + j] = static_cast<std::uint8_t>(((j * 3) % 16) | ((j * 5 % 16) << 4));
  }
  const auto out = decode(TensorType::Q4_0, bytes, 64);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], static_cast<float>(j - 8) * 0.5f) << j;
    EXPECT_EQ(out[16 + j], static_cast<float>(7 - j) * 0.5f) << j;
    EXPECT_EQ(out[32 + j], static_cast<float>((j * 3) % 16 - 8) * -2.0f) << j;
    EXPECT_EQ(out[48 + j], static_cast<float>((j * 5) % 16 - 8) * -2.0f) << j;
  }
}

// Q8_0: fp16 d, then 32 int8; x = q * d.
TEST(DequantizeTest, Q8_0Layout) {
  std::vector<std::uint8_t> bytes(68);
  put_u16(bytes.data(), 0x3400);        // d = 0.25
  put_u16(bytes.data() + 34, 0x5640);   // d = 100
  const std::array<int, 4> specials{-128, 127, -1};
  for (int j = 0; j < 32; ++j) {
    const int q0 = j < 4 ? specials[j] : j * 7 - 100;
    const int q1 = 31 - 2 * j;
    bytes[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q0));
    bytes[36 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q1));
  }
  const auto out = decode(TensorType::Q8_0, bytes, 64);
  for (int j = 0; j < 32; ++j) {
    const int q0 = j < 4 ? specials[j] : j * 7 - 100;
    EXPECT_EQ(out[j], static_cast<float>(q0) * 0.25f) << j;
    EXPECT_EQ(out[32 + j], static_cast<float>(31 - 2 * j) * 100.0f) << j;
  }
}

// MXFP4 (../shared/fixtures/moe/README.md, 4.3): byte 0 the E8M0 exponent e, then element j in
// the low nibble of byte 1 + j and element j + 16 in its high nibble; value = the doubled E2M1
// value {0, 1, 2, 3, 4, 6, 8, 12, -0, -1, ..., -12} times 2^(e - 128), also at the ends of e's
// range (e = 0 and 1 give fp32 subnormal scales, e = 255 gives 2^127).
TEST(DequantizeTest, Mxfp4Layout) {
  const std::array<float, 16> doubled{0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  for (int e : {0, 1, 2, 100, 128, 130, 254, 255}) {
    std::vector<std::uint8_t> bytes(17);
    bytes[0] = static_cast<std::uint8_t>(e);
    for (int j = 0; j < 16; ++j) bytes[1 + j] = static_cast<std::uint8_t>(j | ((15 - j) << 4));
    const auto out = decode(TensorType::MXFP4, bytes, 32);
    const float scale = std::ldexp(1.0f, e - 128);
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(out[j], doubled[j] * scale) << "e " << e << " element " << j;
      EXPECT_EQ(out[16 + j], doubled[15 - j] * scale) << "e " << e << " element " << 16 + j;
    }
  }
}

// Q4_K: fp16 d, fp16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
// Sub-block s (32 values) decodes as d*sc[s] * q - dmin*m[s]. Scale packing (get_scale_min_k4):
//   bytes 0..3:  sc[0..3] in bits 0..5, top two bits of sc[4..7] in bits 6..7
//   bytes 4..7:  m[0..3]  in bits 0..5, top two bits of m[4..7]  in bits 6..7
//   bytes 8..11: low nibble = low 4 bits of sc[4..7], high nibble = low 4 bits of m[4..7]
// Nibbles: value v lives in byte 32*(v/64) + v%32, low nibble if v%64 < 32, else high.
TEST(DequantizeTest, Q4_KLayout) {
  const std::array<int, 8> sc{1, 2, 3, 4, 17, 34, 51, 63};
  const std::array<int, 8> m{0, 5, 10, 63, 16, 33, 48, 62};
  std::vector<std::uint8_t> bytes(144, 0);
  put_u16(bytes.data(), 0x3C00);      // d = 1
  put_u16(bytes.data() + 2, 0x3800);  // dmin = 0.5
  std::uint8_t* scales = bytes.data() + 4;
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<std::uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    scales[j + 4] = static_cast<std::uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    scales[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
  const auto q_of = [](int v) { return (v * 7 + v / 32) % 16; };
  std::uint8_t* qs = bytes.data() + 16;
  for (int v = 0; v < 256; ++v) {
    const int byte = 32 * (v / 64) + v % 32;
    const int shift = (v % 64) < 32 ? 0 : 4;
    qs[byte] = static_cast<std::uint8_t>(qs[byte] | (q_of(v) << shift));
  }
  const auto out = decode(TensorType::Q4_K, bytes, 256);
  for (int v = 0; v < 256; ++v) {
    const int s = v / 32;
    const float expected = 1.0f * static_cast<float>(sc[s]) * static_cast<float>(q_of(v)) -
                           0.5f * static_cast<float>(m[s]);
    EXPECT_EQ(out[v], expected) << v;
  }
}

// Q6_K: 128 bytes ql, 64 bytes qh, 16 int8 scales, fp16 d; x = d * sc[v/16] * (q - 32).
// Value v = 128*h + 32*k + l (h < 2, k < 4, l < 32): low 4 bits in ql[64*h + l + 32*(k&1)]
// (low nibble for k < 2, high nibble for k >= 2), top 2 bits in bits 2k..2k+1 of qh[32*h + l].
TEST(DequantizeTest, Q6_KLayout) {
  const std::array<int, 16> sc{1, -2, 3, -4, 5, 127, -128, 8, 9, -10, 11, 12, -13, 14, 15, 16};
  std::vector<std::uint8_t> bytes(210, 0);
  std::uint8_t* ql = bytes.data();
  std::uint8_t* qh = bytes.data() + 128;
  for (int i = 0; i < 16; ++i) {
    bytes[192 + i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(sc[i]));
  }
  put_u16(bytes.data() + 208, 0x3000);  // d = 0.125
  const auto q_of = [](int v) { return (v * 5 + 3 + v / 64) % 64; };
  for (int v = 0; v < 256; ++v) {
    const int h = v / 128, k = (v % 128) / 32, l = v % 32;
    const int q = q_of(v);
    const int lbyte = 64 * h + l + 32 * (k & 1);
    ql[lbyte] = static_cast<std::uint8_t>(ql[lbyte] | ((q & 0xF) << (k < 2 ? 0 : 4)));
    qh[32 * h + l] = static_cast<std::uint8_t>(qh[32 * h + l] | ((q >> 4) << (2 * k)));
  }
  const auto out = decode(TensorType::Q6_K, bytes, 256);
  for (int v = 0; v < 256; ++v) {
    const float expected =
        0.125f * static_cast<float>(sc[v / 16]) * static_cast<float>(q_of(v) - 32);
    EXPECT_EQ(out[v], expected) << v;
  }
}

TEST(DequantizeTest, RejectsPartialBlocks) {
  std::vector<std::uint8_t> bytes(1024, 0);
  std::vector<float> out(1024);
  EXPECT_THROW(dequantize_row(TensorType::Q8_0, bytes.data(), out.data(), 33), Error);
  EXPECT_THROW(dequantize_row(TensorType::Q4_K, bytes.data(), out.data(), 128), Error);
  EXPECT_THROW(dequantize_row(TensorType::F16, bytes.data(), out.data(), -1), Error);
  EXPECT_NO_THROW(dequantize_row(TensorType::Q6_K, bytes.data(), out.data(), 0));
}

// ---------------------------------------------------------------------- llama.cpp fixtures

std::string fixture(const std::string& name) {
  return std::string(LOCKSTEP_SHARED_DIR) + "/fixtures/models/" + name;
}

using testing::QuantizedFixture;

// Bound on each tensor's relative RMS error sqrt(sum (deq - x)^2 / sum x^2) against the master.
// Measured on these N(0, s) weights, per tensor: Q8_0 0.0053-0.0054, Q4_0 0.0846-0.0864,
// Q4_K 0.0707-0.0719, Q6_K 0.0175-0.0179, F16 0.000206-0.000209, BF16 0.00165-0.00167,
// MXFP4 0.1125-0.1188 (gpt-oss's experts: 4-bit E2M1 codes, and no scale search, so about half
// the blocks saturate their largest value).
// The bounds below leave about 1.5x headroom; they are what each format can achieve on
// Gaussian data (e.g. Q8_0: step amax/127 with amax ~ 2.5 sigma over 32 values, error
// step/sqrt(12) ~ 0.006 sigma).
double bound_for(TensorType type) {
  switch (type) {
    case TensorType::F32: return 0.0;
    case TensorType::F16: return 3.2e-4;
    case TensorType::BF16: return 2.5e-3;
    case TensorType::Q8_0: return 0.008;
    case TensorType::Q6_K: return 0.027;
    case TensorType::Q4_K: return 0.107;
    case TensorType::Q4_0: return 0.13;
    case TensorType::MXFP4: return 0.18;
  }
  return 0.0;
}

class DequantizeFixtureTest : public ::testing::TestWithParam<QuantizedFixture> {};

TEST_P(DequantizeFixtureTest, MatchesF32MasterWithinQuantizationError) {
  const QuantizedFixture& c = GetParam();
  if (!std::filesystem::exists(fixture(c.quantized)) ||
      !std::filesystem::exists(fixture(c.master))) {
    GTEST_SKIP() << "llama.cpp fixtures not found under " << LOCKSTEP_SHARED_DIR
                 << "/fixtures/models";
  }
  const auto quantized = model::GgufFile::open(fixture(c.quantized));
  const auto master = model::GgufFile::open(fixture(c.master));
  int checked = 0;
  for (const auto& t : quantized.tensors()) {
    const model::TensorView* m = master.find_tensor(t.name);
    ASSERT_NE(m, nullptr) << t.name;
    ASSERT_EQ(m->type, TensorType::F32) << t.name;
    ASSERT_EQ(m->shape, t.shape) << t.name;
    const std::int64_t n = static_cast<std::int64_t>(t.element_count());
    const std::int64_t row = static_cast<std::int64_t>(t.row_length());
    const std::size_t row_bytes = tensor_bytes(t.type, static_cast<std::uint64_t>(row));
    ASSERT_EQ(t.data.size(), tensor_bytes(t.type, static_cast<std::uint64_t>(n))) << t.name;

    std::vector<float> x(static_cast<std::size_t>(n));
    std::memcpy(x.data(), m->data.data(), x.size() * sizeof(float));
    std::vector<float> y(static_cast<std::size_t>(n));
    for (std::int64_t r = 0; r < n / row; ++r) {
      dequantize_row(t.type, t.data.data() + r * row_bytes, y.data() + r * row, row);
    }
    double err2 = 0, ref2 = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << t.name << " [" << i << "]";
      const double e = static_cast<double>(y[i]) - x[i];
      err2 += e * e;
      ref2 += static_cast<double>(x[i]) * x[i];
    }
    const double rel_rms = std::sqrt(err2 / ref2);
    EXPECT_LE(rel_rms, bound_for(t.type)) << t.name << " (" << tensor_type_info(t.type).name
                                          << ")";
    if (t.type != TensorType::F32) {
      // Not suspiciously exact either: a quantized tensor that decodes to its master would mean
      // the test compares a file with itself.
      EXPECT_GT(rel_rms, bound_for(t.type) / 20) << t.name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no quantized tensor in " << c.quantized;
}

INSTANTIATE_TEST_SUITE_P(
    LlamaCppFixtures, DequantizeFixtureTest,
    ::testing::ValuesIn(testing::quantized_fixtures()), testing::quantized_fixture_name);

}  // namespace
}  // namespace lockstep::numerics
