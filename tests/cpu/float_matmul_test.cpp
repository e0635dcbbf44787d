// Float matmul kernels (F32, F16, BF16 weights) at every ISA level this machine runs: agreement
// with reference::matmul on the same stored weights, and the determinism contract (equal bits
// whatever the row range, token count, tile or ISA level).
#include "cpu/kernels/float_matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "core/error.h"
#include "cpu/isa.h"
#include "cpu/matmul_kernels.h"
#include "format/tensor_view.h"
#include "numerics/quantize.h"
#include "numerics/tensor_type.h"
#include "reference/matmul.h"

namespace lockstep::cpu {
namespace {

using numerics::TensorType;

constexpr TensorType kTypes[] = {TensorType::F32, TensorType::F16, TensorType::BF16};

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

struct AlignedBuffer {
  std::unique_ptr<std::uint8_t, decltype(&std::free)> data{nullptr, &std::free};
  explicit AlignedBuffer(std::size_t bytes)
      : data(static_cast<std::uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64)),
             &std::free) {
    std::memset(data.get(), 0xa5, (bytes + 63) / 64 * 64 + 64);  // garbage: padding must be written
  }
  std::uint8_t* get() const { return data.get(); }
};

// A {cols, rows} weight matrix stored as `type`, packed, with n prepared activation rows.
struct Problem {
  TensorType type;
  std::int64_t rows, cols, n;
  std::vector<std::uint8_t> stored;  // [rows] GGUF rows of tensor_bytes(type, cols) bytes
  std::vector<float> x;              // [n][cols] fp32
  AlignedBuffer packed;              // packed_bytes(rows, cols)
  AlignedBuffer activations;         // [n][activation_row_bytes(cols)]
  std::size_t x_stride;

  Problem(TensorType t, std::int64_t r, std::int64_t c, std::int64_t tokens, unsigned seed)
      : type(t), rows(r), cols(c), n(tokens),
        packed(weight_format(t).packed_bytes(r, c)),
        activations(weight_format(t).activation_row_bytes(c) * tokens),
        x_stride(weight_format(t).activation_row_bytes(c)) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    const std::size_t row_bytes = numerics::tensor_bytes(type, cols);
    stored.resize(row_bytes * rows);
    std::vector<float> row(cols);
    for (std::int64_t o = 0; o < rows; ++o) {
      for (auto& v : row) v = dist(rng);
      numerics::quantize_row(type, row.data(), stored.data() + o * row_bytes, cols);
    }
    x.resize(n * cols);
    for (auto& v : x) v = dist(rng);
    const WeightFormat& format = weight_format(type);
    // Packed in two concurrent-style halves, as the backend does.
    format.pack(stored.data(), packed.get(), rows, cols, 0, rows / 2);
    format.pack(stored.data(), packed.get(), rows, cols, rows / 2, rows);
  }

  PackedMatrix matrix() const { return {type, rows, cols, packed.get()}; }

  void prepare(Isa isa) {
    for (std::int64_t t = 0; t < n; ++t)
      matmul_kernel(type, isa).prepare_activation(x.data() + t * cols,
                                                  activations.get() + t * x_stride, cols);
  }

  // y: [n][y_stride] fp32 for the given rows and tokens [0, tokens).
  std::vector<float> run(Isa isa, std::int64_t tokens, std::int64_t row_begin,
                         std::int64_t row_end, std::size_t y_stride) {
    prepare(isa);
    std::vector<float> y(tokens * y_stride, -7.0f);
    matmul_kernel(type, isa).matmul(matrix(), activations.get(), x_stride, y.data(), y_stride,
                                    tokens, row_begin, row_end);
    return y;
  }

  std::vector<float> reference() const {
    model::TensorView view{"w", type, {static_cast<std::uint64_t>(cols),
                                       static_cast<std::uint64_t>(rows)}, stored};
    std::vector<float> y(n * rows);
    reference::matmul(view, x, y, n);
    return y;
  }

  // Exact-ish sums (double) and sum_i |W[o][i] x[t][i]|, for error bounds. [n][rows] each.
  void exact(std::vector<double>& sum, std::vector<double>& m) const {
    model::TensorView view{"w", type, {static_cast<std::uint64_t>(cols),
                                       static_cast<std::uint64_t>(rows)}, stored};
    sum.assign(n * rows, 0.0);
    m.assign(n * rows, 0.0);
    std::vector<float> w(cols);
    for (std::int64_t o = 0; o < rows; ++o) {
      model::dequantize_tensor_row(view, o, w);
      for (std::int64_t t = 0; t < n; ++t)
        for (std::int64_t i = 0; i < cols; ++i) {
          const double term = static_cast<double>(w[i]) * x[t * cols + i];
          sum[t * rows + o] += term;
          m[t * rows + o] += std::abs(term);
        }
    }
  }
};

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Both the kernel and the reference sum the same exact-widened products in fp32, only in a
// different order; nothing else (no quantization of activations) separates them. Bounds, with
// u = 2^-24 the unit roundoff and M = sum_i |w_i x_i|:
// - the kernel: each lane is a recursive FMA sum of ceil(cols / 16) terms, then a 4-level tree,
//   so |kernel - exact| <= (cols / 16 + 5) * u * M (about 16x tighter than a running sum; one
//   dropped or doubled term, or a wrong lane, breaks it);
// - the reference is a running fp32 sum, |reference - exact| <= (cols + 1) * u * M, so
//   |kernel - reference| <= (cols + cols / 16 + 6) * u * M.
constexpr double kUnitRoundoff = std::numeric_limits<float>::epsilon() / 2;

double kernel_bound(std::int64_t cols, double magnitude) {
  return (static_cast<double>(cols) / 16 + 5) * kUnitRoundoff * magnitude + 1e-30;
}

double reference_bound(std::int64_t cols, double magnitude) {
  return (static_cast<double>(cols) * 17 / 16 + 6) * kUnitRoundoff * magnitude + 1e-30;
}

void expect_matches_reference(TensorType type, std::int64_t rows, std::int64_t cols,
                              std::int64_t n) {
  Problem p(type, rows, cols, n, static_cast<unsigned>(rows * 131 + cols * 7 + n));
  const auto want = p.reference();
  std::vector<double> exact, mag;
  p.exact(exact, mag);
  for (Isa isa : supported_isas()) {
    const auto got = p.run(isa, n, 0, rows, rows);
    for (std::int64_t i = 0; i < n * rows; ++i) {
      ASSERT_NEAR(got[i], exact[i], kernel_bound(cols, mag[i]))
          << numerics::tensor_type_info(type).name << " " << isa_name(isa) << " rows=" << rows
          << " cols=" << cols << " n=" << n << " at token " << i / rows << " row " << i % rows;
      ASSERT_NEAR(got[i], want[i], reference_bound(cols, mag[i]))
          << numerics::tensor_type_info(type).name << " " << isa_name(isa) << " rows=" << rows
          << " cols=" << cols << " n=" << n << " at token " << i / rows << " row " << i % rows;
    }
  }
}

TEST(FloatMatmulTest, MatchesReferenceOnModelShapes) {
  for (TensorType type : kTypes) {
    expect_matches_reference(type, 64, 256, 1);
    expect_matches_reference(type, 48, 2048, 1);
    expect_matches_reference(type, 48, 2048, 5);
    expect_matches_reference(type, 35, 1100, 50);  // chunks of 512 columns, blocks of tokens
  }
}

TEST(FloatMatmulTest, MatchesReferenceOnOddShapes) {
  for (TensorType type : kTypes) {
    expect_matches_reference(type, 1, 1, 1);
    expect_matches_reference(type, 1, 1, 3);
    expect_matches_reference(type, 3, 17, 2);
    expect_matches_reference(type, 37, 80, 7);
    expect_matches_reference(type, 9, 33, 26);
    expect_matches_reference(type, 17, 513, 4);
  }
}

// y[t][o] has the same bits whatever the row range, the token count (decode alone or inside a
// prefill chunk), the output stride and the ISA level.
void expect_deterministic(TensorType type, std::int64_t rows, std::int64_t cols,
                          std::int64_t n) {
  Problem p(type, rows, cols, n, 99);
  const auto isas = supported_isas();
  const auto base = p.run(Isa::Portable, n, 0, rows, rows);
  for (Isa isa : isas) {
    for (std::int64_t tokens = 1; tokens <= n; ++tokens) {
      const std::size_t stride = rows + 5;
      const std::int64_t cuts[][2] = {{0, rows}, {0, rows / 2}, {rows / 2, rows},
                                      {rows / 3, rows - rows / 4}, {rows - 1, rows}};
      for (const auto& cut : cuts) {
        if (cut[0] >= cut[1]) continue;
        const auto y = p.run(isa, tokens, cut[0], cut[1], stride);
        for (std::int64_t t = 0; t < tokens; ++t) {
          for (std::int64_t o = 0; o < rows; ++o) {
            const float got = y[t * stride + o];
            if (o < cut[0] || o >= cut[1]) {
              ASSERT_EQ(got, -7.0f) << "wrote outside its rows";
              continue;
            }
            ASSERT_TRUE(same_bits(got, base[t * rows + o]))
                << numerics::tensor_type_info(type).name << " " << isa_name(isa)
                << " tokens=" << tokens << " rows [" << cut[0] << ", " << cut[1] << ") t=" << t
                << " o=" << o << ": " << got << " vs " << base[t * rows + o];
          }
          for (std::size_t o = rows; o < stride; ++o) ASSERT_EQ(y[t * stride + o], -7.0f);
        }
      }
    }
  }
}

TEST(FloatMatmulTest, BitIdenticalAcrossRowRangesTokenCountsAndIsas) {
  for (TensorType type : kTypes) {
    expect_deterministic(type, 37, 80, 7);
    expect_deterministic(type, 21, 530, 4);
  }
}

TEST(FloatMatmulTest, LargeTokenCountMatchesDecodeBits) {
  // Token blocks and k-chunks of the prefill path versus the decode path, token by token.
  for (TensorType type : kTypes) {
    Problem p(type, 19, 1040, 53, 5);
    for (Isa isa : supported_isas()) {
      const auto all = p.run(isa, 53, 0, 19, 19);
      for (std::int64_t t = 0; t < 53; ++t) {
        p.prepare(isa);
        std::vector<float> y(19);
        matmul_kernel(type, isa).matmul(p.matrix(), p.activations.get() + t * p.x_stride,
                                        p.x_stride, y.data(), 19, 1, 0, 19);
        for (int o = 0; o < 19; ++o) ASSERT_TRUE(same_bits(y[o], all[t * 19 + o]));
      }
    }
  }
}

TEST(FloatMatmulTest, FormatIsPaddedRows) {
  for (TensorType type : kTypes) {
    const WeightFormat& f = weight_format(type);
    const std::size_t element = type == TensorType::F32 ? 4 : 2;
    EXPECT_EQ(f.type, type);
    EXPECT_EQ(f.packed_bytes(3, 80), 3 * ((80 * element + 63) / 64 * 64));
    EXPECT_EQ(f.activation_row_bytes(80), 320u);
    EXPECT_EQ(f.activation_row_bytes(81), 384u);
  }
}

TEST(FloatMatmulTest, PrepareActivationIsTheSameBytesAtEveryIsa) {
  std::vector<float> x(37);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i) - 3.0f;
  const std::size_t bytes = weight_format(TensorType::F16).activation_row_bytes(37);
  std::vector<std::uint8_t> first;
  for (Isa isa : supported_isas()) {
    AlignedBuffer out(bytes);
    matmul_kernel(TensorType::F16, isa).prepare_activation(x.data(), out.get(), 37);
    std::vector<std::uint8_t> got(out.get(), out.get() + bytes);
    if (first.empty()) first = got;
    EXPECT_EQ(got, first) << isa_name(isa);
  }
}

TEST(FloatMatmulTest, RejectsOtherTypes) {
  EXPECT_THROW(kernels::float_weight_format(TensorType::Q8_0), Error);
  EXPECT_THROW(kernels::float_matmul_kernel(TensorType::Q4_K, Isa::Portable), Error);
}

}  // namespace
}  // namespace lockstep::cpu
