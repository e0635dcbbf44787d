// Quantization: round-trip error bounds on seeded random data, exact grids, zeros, constants,
// extreme magnitudes and invalid input; and byte-for-byte agreement with the files llama.cpp's
// llama-quantize wrote from the same F32 masters.
#include "numerics/quantize.h"

#include <gtest/gtest.h>

#include "support/quantized_fixtures.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "format/gguf_file.h"
#include "numerics/dequantize.h"
#include "numerics/half.h"

namespace lockstep::numerics {
namespace {

constexpr TensorType kAllTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16,
                                    TensorType::Q8_0, TensorType::Q6_K, TensorType::Q4_K,
                                    TensorType::Q4_0, TensorType::MXFP4};
constexpr TensorType kQuantizedTypes[] = {TensorType::Q8_0, TensorType::Q6_K, TensorType::Q4_K,
                                          TensorType::Q4_0, TensorType::MXFP4};

// Seeded N(0, sigma) values: mt19937 (exactly specified by the standard) and Box-Muller.
std::vector<float> gaussian(std::size_t n, std::uint32_t seed, float sigma = 1.0f) {
  std::mt19937 gen(seed);
  const auto uniform01 = [&gen] { return ((gen() >> 8) + 0.5) / 16777216.0; };  // in (0, 1)
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform01()));
    const double theta = 2.0 * 3.14159265358979323846 * uniform01();
    v[i] = static_cast<float>(r * std::cos(theta)) * sigma;
    if (i + 1 < n) v[i + 1] = static_cast<float>(r * std::sin(theta)) * sigma;
  }
  return v;
}

// Seeded uniform values in (-1, 1).
std::vector<float> uniform(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(((gen() >> 8) + 0.5) / 16777216.0 * 2.0 - 1.0);
  return v;
}

std::vector<std::uint8_t> encode(TensorType type, const std::vector<float>& x) {
  std::vector<std::uint8_t> bytes(tensor_bytes(type, x.size()));
  quantize_row(type, x.data(), bytes.data(), static_cast<std::int64_t>(x.size()));
  return bytes;
}

std::vector<float> decode(TensorType type, const std::vector<std::uint8_t>& bytes,
                          std::size_t n) {
  std::vector<float> y(n);
  dequantize_row(type, bytes.data(), y.data(), static_cast<std::int64_t>(n));
  return y;
}

std::vector<float> round_trip(TensorType type, const std::vector<float>& x) {
  return decode(type, encode(type, x), x.size());
}

// sqrt(sum (y - x)^2 / sum x^2)
double relative_rms(const std::vector<float>& x, const std::vector<float>& y) {
  double err2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double e = static_cast<double>(y[i]) - x[i];
    err2 += e * e;
    ref2 += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err2 / ref2);
}

bool all_finite(const std::vector<float>& y) {
  for (float v : y) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

// Relative RMS round-trip error bounds. Measured on 2^18 N(0, 1) values (seeds 1-3):
// F16 0.00021, BF16 0.00166, Q8_0 0.00535, Q6_K 0.0177, Q4_K 0.0713, Q4_0 0.0859; on uniform
// (-1, 1) values they are smaller (Q8_0 0.0038, Q6_K 0.0132, Q4_K 0.0546, Q4_0 0.0649).
// The bounds give about 2x headroom. MXFP4 measures 0.115 (Gaussian) and 0.144 (uniform); its
// bound is 0.3 because a block's largest value saturates at 12 * 2^(e - 128) = 1.5 * 2^floor(log2
// amax), up to 25% below it, which a lone outlier (below) turns into 0.232 of the whole RMS.
double round_trip_bound(TensorType type) {
  switch (type) {
    case TensorType::F32: return 0.0;
    case TensorType::F16: return 4.5e-4;
    case TensorType::BF16: return 3.5e-3;
    case TensorType::Q8_0: return 0.011;
    case TensorType::Q6_K: return 0.036;
    case TensorType::Q4_K: return 0.145;
    case TensorType::Q4_0: return 0.175;
    case TensorType::MXFP4: return 0.3;
  }
  return 0.0;
}

TEST(QuantizeTest, RoundTripErrorOnGaussianData) {
  for (TensorType type : kAllTypes) {
    for (std::uint32_t seed : {1u, 2u, 3u}) {
      SCOPED_TRACE(std::string(tensor_type_info(type).name) + " seed " + std::to_string(seed));
      const auto x = gaussian(1 << 18, seed);
      const auto y = round_trip(type, x);
      ASSERT_TRUE(all_finite(y));
      const double err = relative_rms(x, y);
      EXPECT_LE(err, round_trip_bound(type));
      if (type != TensorType::F32) {
        EXPECT_GT(err, round_trip_bound(type) / 8);  // the data really went through the format
      }
    }
  }
}

TEST(QuantizeTest, RoundTripErrorOnUniformData) {
  for (TensorType type : kAllTypes) {
    SCOPED_TRACE(tensor_type_info(type).name);
    const auto x = uniform(1 << 16, 7);
    EXPECT_LE(relative_rms(x, round_trip(type, x)), round_trip_bound(type));
  }
}

// Q8_0 values on a grid q * d, with d an fp16 number and some |q| = 127 in every block, come back
// exactly: d is recovered as amax / 127, and every q as round(x / d).
TEST(QuantizeTest, Q8_0GridValuesRoundTripExactly) {
  std::mt19937 gen(11);
  for (int trial = 0; trial < 200; ++trial) {
    const float d = fp16_to_fp32(static_cast<std::uint16_t>(0x1400 + gen() % 0x3000)) *
                    ((trial & 1) ? -1.0f : 1.0f);  // |d| from 2^-10 to 2^2
    std::vector<float> x(64);
    std::vector<int> q(64);
    for (int i = 0; i < 64; ++i) q[i] = static_cast<int>(gen() % 255) - 127;
    q[gen() % 32] = 127;
    q[32 + gen() % 32] = -127;
    for (int i = 0; i < 64; ++i) x[i] = static_cast<float>(q[i]) * d;
    const auto bytes = encode(TensorType::Q8_0, x);
    for (int b = 0; b < 2; ++b) {
      const std::uint8_t* block = bytes.data() + 34 * b;
      const auto stored_d = static_cast<std::uint16_t>(block[0] | (block[1] << 8));
      ASSERT_EQ(fp16_to_fp32(stored_d), std::fabs(d)) << trial;
      for (int j = 0; j < 32; ++j) {
        ASSERT_EQ(static_cast<std::int8_t>(block[2 + j]),
                  d > 0 ? q[32 * b + j] : -q[32 * b + j]) << trial;
      }
    }
    const auto y = decode(TensorType::Q8_0, bytes, x.size());
    for (int i = 0; i < 64; ++i) ASSERT_EQ(y[i], x[i]) << trial << " " << i;
  }
}

// Q4_0 values (q - 8) * d with q in [0, 15] and a q = 0 in every block (the value of largest
// magnitude, -8 d) come back exactly.
TEST(QuantizeTest, Q4_0GridValuesRoundTripExactly) {
  std::mt19937 gen(12);
  for (int trial = 0; trial < 200; ++trial) {
    const float d = fp16_to_fp32(static_cast<std::uint16_t>(0x1400 + gen() % 0x3000)) *
                    ((trial & 1) ? -1.0f : 1.0f);
    std::vector<float> x(64);
    for (int i = 0; i < 64; ++i) x[i] = static_cast<float>(static_cast<int>(gen() % 16) - 8) * d;
    x[gen() % 32] = -8.0f * d;
    x[32 + gen() % 32] = -8.0f * d;
    const auto y = round_trip(TensorType::Q4_0, x);
    for (int i = 0; i < 64; ++i) ASSERT_EQ(y[i], x[i]) << trial << " " << i;
  }
}

// Decoded Q8_0 / Q4_0 / F16 / BF16 data is a fixed point: quantizing it again gives the same bytes.
TEST(QuantizeTest, RequantizingDecodedDataIsIdempotent) {
  for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0, TensorType::F16,
                          TensorType::BF16}) {
    SCOPED_TRACE(tensor_type_info(type).name);
    const auto x = gaussian(1 << 14, 21, 0.3f);
    const auto bytes = encode(type, x);
    EXPECT_EQ(encode(type, decode(type, bytes, x.size())), bytes);
  }
}

TEST(QuantizeTest, ZerosStayZero) {
  const std::vector<float> zeros(512, 0.0f);
  for (TensorType type : kAllTypes) {
    SCOPED_TRACE(tensor_type_info(type).name);
    const auto bytes = encode(type, zeros);
    for (float v : decode(type, bytes, zeros.size())) ASSERT_EQ(v, 0.0f);
    if (type != TensorType::Q4_0) {  // Q4_0 stores zero as nibble 8 (0x88 bytes), as ggml does
      for (std::uint8_t b : bytes) ASSERT_EQ(b, 0);
    }
  }
}

// A constant row decodes to that constant within the precision of the fp16 scales (measured
// worst relative error 3.6e-4, Q4_K; bound 1e-3) or of bf16 itself (2^-9, bound 4e-3). MXFP4 has
// no scale search: c / 2^(floor(log2 |c|) - 3) lies in [8, 16) and takes the nearer of the codes
// 8 and 12, so a constant may move by up to a quarter (bound 0.25; -0.37 becomes -0.375).
TEST(QuantizeTest, ConstantRowsStayConstant) {
  for (TensorType type : kAllTypes) {
    const double tolerance = type == TensorType::BF16 ? 4e-3 : type == TensorType::MXFP4 ? 0.25 : 1e-3;
    for (float c : {1.0f, -0.37f, 0.05f, 123.0f, -3.0e4f}) {
      SCOPED_TRACE(std::string(tensor_type_info(type).name) + " c=" + std::to_string(c));
      const std::vector<float> x(512, c);
      const std::vector<float> y = round_trip(type, x);
      for (float v : y) {
        ASSERT_NEAR(v, c, tolerance * std::fabs(c));
        ASSERT_EQ(v, y[0]);  // constant, whatever the format
      }
    }
  }
}

// Scaled data keeps its relative error from 1e-3 to 1e4 (Q6_K is the worst at 1e-3: 0.021, its
// fp16 scale d ~ amax / 4096 is then subnormal). Far smaller data decodes to finite values no
// farther from the input than zero is (the fp16 scales underflow: e.g. below ~1e-4 for Q6_K
// everything decodes to 0, as it does in llama.cpp).
TEST(QuantizeTest, LargeAndSmallMagnitudesStayFinite) {
  for (TensorType type : kAllTypes) {
    for (float sigma : {1e-3f, 1e3f, 1e4f}) {
      SCOPED_TRACE(std::string(tensor_type_info(type).name) + " sigma=" + std::to_string(sigma));
      const auto x = gaussian(1 << 15, 31, sigma);
      const auto y = round_trip(type, x);
      ASSERT_TRUE(all_finite(y));
      EXPECT_LE(relative_rms(x, y), round_trip_bound(type));
    }
    for (float sigma : {1e-5f, 1e-8f, 1e-20f, 1e-38f, 1e-42f}) {  // 1e-42: fp32 subnormals
      SCOPED_TRACE(std::string(tensor_type_info(type).name) + " sigma=" + std::to_string(sigma));
      const auto x = gaussian(1 << 12, 32, sigma);
      const auto y = round_trip(type, x);
      ASSERT_TRUE(all_finite(y));
      EXPECT_LE(relative_rms(x, y), 1.0 + 1e-6);
    }
    // One outlier among tiny values in every block.
    auto x = gaussian(1 << 12, 33, 1e-6f);
    for (std::size_t i = 0; i < x.size(); i += 32) x[i + (i / 32) % 32] = 1000.0f;
    const auto y = round_trip(type, x);
    ASSERT_TRUE(all_finite(y)) << tensor_type_info(type).name;
    EXPECT_LE(relative_rms(x, y), round_trip_bound(type)) << tensor_type_info(type).name;
  }
}

TEST(QuantizeTest, RejectsNonFiniteInput) {
  for (TensorType type : kQuantizedTypes) {
    SCOPED_TRACE(tensor_type_info(type).name);
    for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                      std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
      auto x = gaussian(512, 41);
      x[300] = bad;
      std::vector<std::uint8_t> bytes(tensor_bytes(type, x.size()));
      EXPECT_THROW(quantize_row(type, x.data(), bytes.data(), 512), Error);
    }
  }
}

// Values whose block scale overflows fp16 are an error (llama.cpp would store an infinite scale).
// The limits: Q8_0 127 * 65504 ~ 8.3e6; Q4_0 8 * 65504 ~ 5.2e5; Q6_K ~ 4096 * 65504 ~ 2.7e8;
// Q4_K ~ 63 * 65504 ~ 4.1e6 below zero (the 6-bit min times dmin) and ~ 15 * 63 * 65504 ~ 6e7
// above.
TEST(QuantizeTest, RejectsValuesBeyondTheFp16ScaleRange) {
  const struct {
    TensorType type;
    float ok_low, ok_high;    // the most negative / positive values that still fit
    float bad_low, bad_high;  // too large
  } cases[] = {{TensorType::Q8_0, -8.0e6f, 8.0e6f, -1.0e7f, 1.0e7f},
               {TensorType::Q4_0, -5.0e5f, 5.0e5f, -6.0e5f, 6.0e5f},
               {TensorType::Q4_K, -3.5e6f, 3.0e7f, -1.0e7f, 1.0e8f},
               {TensorType::Q6_K, -2.5e8f, 2.5e8f, -3.0e8f, 3.0e8f}};
  for (const auto& c : cases) {
    SCOPED_TRACE(tensor_type_info(c.type).name);
    auto x = gaussian(512, 42);
    x[5] = c.ok_low;
    x[260] = c.ok_high;
    const auto y = round_trip(c.type, x);
    ASSERT_TRUE(all_finite(y));
    EXPECT_NEAR(y[5], c.ok_low, 0.07 * std::fabs(c.ok_low));
    EXPECT_NEAR(y[260], c.ok_high, 0.07 * c.ok_high);
    std::vector<std::uint8_t> bytes(tensor_bytes(c.type, x.size()));
    for (float bad : {c.bad_low, c.bad_high, std::numeric_limits<float>::max(),
                      std::numeric_limits<float>::lowest()}) {
      auto z = x;
      z[260] = bad;
      EXPECT_THROW(quantize_row(c.type, z.data(), bytes.data(), 512), Error) << bad;
    }
  }
}

TEST(QuantizeTest, HalfTypesAreRoundedConversions) {
  const std::vector<float> x{1.0f, -0.1f, 65504.0f, 1e6f, 1e-8f,
                             std::numeric_limits<float>::quiet_NaN()};
  const auto f16 = encode(TensorType::F16, x);
  const auto bf16 = encode(TensorType::BF16, x);
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(f16[2 * i] | (f16[2 * i + 1] << 8), fp32_to_fp16(x[i])) << i;
    EXPECT_EQ(bf16[2 * i] | (bf16[2 * i + 1] << 8), fp32_to_bf16(x[i])) << i;
  }
  EXPECT_EQ(f16[6] | (f16[7] << 8), 0x7C00);  // 1e6 is beyond fp16: +inf, as IEEE rounding says
}

TEST(QuantizeTest, RejectsPartialBlocks) {
  const std::vector<float> x(512, 1.0f);
  std::vector<std::uint8_t> bytes(4096);
  EXPECT_THROW(quantize_row(TensorType::Q4_0, x.data(), bytes.data(), 48), Error);
  EXPECT_THROW(quantize_row(TensorType::Q6_K, x.data(), bytes.data(), 288), Error);
  EXPECT_THROW(quantize_row(TensorType::F32, x.data(), bytes.data(), -4), Error);
  EXPECT_NO_THROW(quantize_row(TensorType::Q4_K, x.data(), bytes.data(), 0));
}

// ---------------------------------------------------------------------- llama.cpp fixtures

std::string fixture(const std::string& name) {
  return std::string(LOCKSTEP_SHARED_DIR) + "/fixtures/models/" + name;
}

using testing::QuantizedFixture;

class QuantizeFixtureTest : public ::testing::TestWithParam<QuantizedFixture> {};

// Re-quantizing the F32 master with our quantizer reproduces llama.cpp's bytes exactly, for every
// type in the file: Q8_0, Q4_0, Q4_K, Q6_K, F16 and BF16 (and the Q4_K/Q6_K mixture of
// llama3-q4_k_m). Checked per tensor, row by row, as a GGUF writer would call quantize_row.
TEST_P(QuantizeFixtureTest, ReproducesLlamaQuantizeBytes) {
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
    if (t.type == TensorType::F32) continue;  // 1-D tensors are stored unchanged
    const model::TensorView* m = master.find_tensor(t.name);
    ASSERT_NE(m, nullptr) << t.name;
    ASSERT_EQ(m->type, TensorType::F32) << t.name;
    ASSERT_EQ(m->shape, t.shape) << t.name;
    const auto row = static_cast<std::int64_t>(t.row_length());
    const auto rows = static_cast<std::int64_t>(t.row_count());
    const std::size_t row_bytes = tensor_bytes(t.type, static_cast<std::uint64_t>(row));
    ASSERT_EQ(t.data.size(), row_bytes * static_cast<std::size_t>(rows)) << t.name;

    std::vector<float> x(static_cast<std::size_t>(row));
    std::vector<std::uint8_t> ours(row_bytes);
    std::size_t differing_rows = 0;
    std::int64_t first_row = -1;
    for (std::int64_t r = 0; r < rows; ++r) {
      std::memcpy(x.data(), m->data.data() + r * row * 4, x.size() * sizeof(float));
      quantize_row(t.type, x.data(), ours.data(), row);
      if (std::memcmp(ours.data(), t.data.data() + r * row_bytes, row_bytes) != 0) {
        if (first_row < 0) first_row = r;
        ++differing_rows;
      }
    }
    EXPECT_EQ(differing_rows, 0u) << t.name << " (" << tensor_type_info(t.type).name
                                  << "): first differing row " << first_row;
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no quantized tensor in " << c.quantized;
}

INSTANTIATE_TEST_SUITE_P(
    LlamaCppFixtures, QuantizeFixtureTest,
    ::testing::ValuesIn(testing::quantized_fixtures()), testing::quantized_fixture_name);

}  // namespace
}  // namespace lockstep::numerics
