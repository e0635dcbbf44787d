// Attention vector kernels at every ISA level this machine runs, against plain double-precision
// sums over fp16 values widened by numerics/half.h, and fp32 -> fp16 against numerics' bits.
#include "cpu/vector_kernels.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "cpu/isa.h"
#include "numerics/half.h"

namespace lockstep::cpu {
namespace {

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

// fp32 sums of m exact products (fp16 widening is exact) differ from the exact sum by at most
// about m * eps * sum|terms| (recursive summation bound; FMA only tightens it).
double bound(std::int64_t m, double magnitude) {
  return 1.01 * static_cast<double>(m + 1) * std::numeric_limits<float>::epsilon() * magnitude +
         1e-30;
}

std::vector<std::uint16_t> random_fp16(std::size_t count, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<std::uint16_t> v(count);
  for (auto& h : v) h = numerics::fp32_to_fp16(dist(rng));
  return v;
}

TEST(VectorKernelsTest, DotFp16RowsMatchesDouble) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (std::int64_t d : {1, 7, 8, 16, 31, 64, 80, 128, 131}) {
    for (std::int64_t n_keys : {1, 3, 4, 5, 37}) {
      const std::size_t stride = d + 3;
      const auto k = random_fp16(stride * n_keys, rng);
      std::vector<float> q(d);
      for (auto& v : q) v = dist(rng);
      const float scale = 0.125f;
      for (Isa isa : supported_isas()) {
        std::vector<float> scores(n_keys + 1, 42.0f);
        vector_kernels(isa).dot_fp16_rows(q.data(), k.data(), stride, d, n_keys, scale,
                                          scores.data());
        for (std::int64_t j = 0; j < n_keys; ++j) {
          double want = 0, magnitude = 0;
          for (std::int64_t i = 0; i < d; ++i) {
            const double term = static_cast<double>(q[i]) * numerics::fp16_to_fp32(k[j * stride + i]);
            want += term;
            magnitude += std::abs(term);
          }
          ASSERT_NEAR(scores[j], scale * want, scale * bound(d, magnitude) + 1e-7 * std::abs(scale * want))
              << isa_name(isa) << " d=" << d << " key " << j;
        }
        EXPECT_EQ(scores[n_keys], 42.0f) << "wrote past n_keys";
      }
    }
  }
}

TEST(VectorKernelsTest, WeightedSumFp16RowsMatchesDouble) {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> prob(0.0f, 1.0f);
  for (std::int64_t d : {1, 7, 8, 16, 33, 64, 80, 128, 136, 260}) {
    for (std::int64_t n_rows : {1, 2, 3, 37, 1000}) {
      const std::size_t stride = d + 5;
      const auto v = random_fp16(stride * n_rows, rng);
      std::vector<float> p(n_rows);
      for (auto& x : p) x = prob(rng);
      for (Isa isa : supported_isas()) {
        std::vector<float> out(d + 1, 42.0f);
        vector_kernels(isa).weighted_sum_fp16_rows(p.data(), v.data(), stride, d, n_rows,
                                                   out.data());
        for (std::int64_t i = 0; i < d; ++i) {
          double want = 0, magnitude = 0;
          for (std::int64_t j = 0; j < n_rows; ++j) {
            const double term = static_cast<double>(p[j]) * numerics::fp16_to_fp32(v[j * stride + i]);
            want += term;
            magnitude += std::abs(term);
          }
          ASSERT_NEAR(out[i], want, bound(n_rows, magnitude) + 1e-7 * std::abs(want))
              << isa_name(isa) << " d=" << d << " n_rows=" << n_rows << " i=" << i;
        }
        EXPECT_EQ(out[d], 42.0f) << "wrote past d";
      }
    }
  }
}

TEST(VectorKernelsTest, Fp32ToFp16GivesNumericsBits) {
  std::vector<float> x;
  std::mt19937 rng(5);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (int i = 0; i < 20000; ++i) x.push_back(std::bit_cast<float>(bits(rng)));  // every class
  for (int e = -30; e <= 17; ++e) {  // around the fp16 range, subnormals and overflow
    for (int i = 0; i < 40; ++i) {
      x.push_back(std::ldexp(1.0f + static_cast<float>(i) / 1024.0f + 1.0f / 4096.0f, e));
      x.push_back(-std::ldexp(1.0f + static_cast<float>(i) / 2048.0f, e));
    }
  }
  for (std::uint32_t b : {0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xff800001u,
                          0x7fa00000u, 0x00000000u, 0x80000000u, 0x477ff000u, 0x477fefffu,
                          0x33000000u, 0x33000001u})
    x.push_back(std::bit_cast<float>(b));
  for (Isa isa : supported_isas()) {
    for (std::int64_t n : {std::int64_t{0}, std::int64_t{1}, std::int64_t{7}, std::int64_t{9},
                           std::int64_t{17}, static_cast<std::int64_t>(x.size())}) {
      std::vector<std::uint16_t> out(n + 1, 0xbeef);
      vector_kernels(isa).fp32_to_fp16(x.data() + x.size() - n, out.data(), n);
      for (std::int64_t i = 0; i < n; ++i)
        ASSERT_EQ(out[i], numerics::fp32_to_fp16(x[x.size() - n + i]))
            << isa_name(isa) << " input bits 0x" << std::hex
            << std::bit_cast<std::uint32_t>(x[x.size() - n + i]);
      EXPECT_EQ(out[n], 0xbeef) << "wrote past n";
    }
  }
}

}  // namespace
}  // namespace lockstep::cpu
