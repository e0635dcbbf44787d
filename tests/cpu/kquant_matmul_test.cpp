// Q4_K / Q6_K kernels at every ISA level this processor runs: against reference::matmul on the
// same quantized weights, bit-identity across row ranges, token counts and tails, agreement
// between ISAs, and identical activation bytes.
#include "cpu/kernels/kquant_matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cpu/isa.h"
#include "cpu/matmul_kernels.h"
#include "format/tensor_view.h"
#include "numerics/quantize.h"
#include "numerics/tensor_type.h"
#include "reference/matmul.h"

namespace lockstep::cpu {
namespace {

using numerics::TensorType;

struct AlignedBuffer {
  std::unique_ptr<std::uint8_t[], decltype(&std::free)> ptr{nullptr, &std::free};
  explicit AlignedBuffer(std::size_t bytes)
      : ptr(static_cast<std::uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64)),
            &std::free) {
    std::memset(ptr.get(), 0xA5, (bytes + 63) / 64 * 64 + 64);
  }
  std::uint8_t* get() const { return ptr.get(); }
};

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

std::vector<float> gaussian(std::size_t count, std::uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// A {cols, rows} matrix quantized as `type` (GGUF bytes), from gaussian values with a per-row
// spread (so that scales and mins vary) and a per-row offset (so that Q4_K mins matter).
struct Matrix {
  TensorType type;
  std::int64_t rows, cols;
  std::vector<std::uint8_t> gguf;  // [rows] x tensor_bytes(type, cols)
  model::TensorView view() const {
    return {"w", type, {static_cast<std::uint64_t>(cols), static_cast<std::uint64_t>(rows)},
            std::span<const std::uint8_t>(gguf)};
  }
};

Matrix make_matrix(TensorType type, std::int64_t rows, std::int64_t cols, std::uint32_t seed) {
  Matrix m{type, rows, cols, {}};
  const std::size_t row_bytes = numerics::tensor_bytes(type, static_cast<std::uint64_t>(cols));
  m.gguf.resize(row_bytes * static_cast<std::size_t>(rows));
  std::vector<float> values = gaussian(static_cast<std::size_t>(rows * cols), seed);
  for (std::int64_t o = 0; o < rows; ++o) {
    float* row = values.data() + o * cols;
    const float spread = 0.02f * static_cast<float>(1 + o % 7);
    const float offset = 0.01f * static_cast<float>(o % 5 - 2);
    for (std::int64_t i = 0; i < cols; ++i) row[i] = row[i] * spread * (1.0f + (i / 32) % 3) + offset;
    numerics::quantize_row(type, row, m.gguf.data() + row_bytes * static_cast<std::size_t>(o), cols);
  }
  return m;
}

struct Packed {
  AlignedBuffer buffer;
  PackedMatrix matrix;
};

// Packs in two row ranges, as the backend's threads would.
std::unique_ptr<Packed> pack(const Matrix& m) {
  const WeightFormat& format = weight_format(m.type);
  auto p = std::make_unique<Packed>(Packed{AlignedBuffer(format.packed_bytes(m.rows, m.cols)), {}});
  const std::int64_t split = m.rows / 2;
  format.pack(m.gguf.data(), p->buffer.get(), m.rows, m.cols, 0, split);
  format.pack(m.gguf.data(), p->buffer.get(), m.rows, m.cols, split, m.rows);
  p->matrix = {m.type, m.rows, m.cols, p->buffer.get()};
  return p;
}

struct Activations {
  AlignedBuffer buffer;
  std::size_t stride;
};

// x: [n][cols] fp32 -> n rows of the activation format.
std::unique_ptr<Activations> prepare(TensorType type, Isa isa, const std::vector<float>& x,
                                     std::int64_t n, std::int64_t cols) {
  const std::size_t stride = weight_format(type).activation_row_bytes(cols);
  auto a = std::make_unique<Activations>(
      Activations{AlignedBuffer(stride * static_cast<std::size_t>(n)), stride});
  for (std::int64_t t = 0; t < n; ++t)
    matmul_kernel(type, isa).prepare_activation(x.data() + t * cols, a->buffer.get() + t * stride,
                                                cols);
  return a;
}

std::vector<float> run(const Packed& w, Isa isa, const Activations& a, std::int64_t n,
                       std::int64_t row_begin, std::int64_t row_end, std::size_t y_stride) {
  std::vector<float> y(y_stride * static_cast<std::size_t>(n), -7.0f);
  matmul_kernel(w.matrix.type, isa).matmul(w.matrix, a.buffer.get(), a.stride, y.data(), y_stride,
                                           n, row_begin, row_end);
  return y;
}

std::vector<float> reference_y(const Matrix& m, const std::vector<float>& x, std::int64_t n) {
  std::vector<float> y(static_cast<std::size_t>(n * m.rows));
  reference::matmul(m.view(), x, y, n);
  return y;
}

// [rows][cols] |W| as fp32.
std::vector<float> abs_weights(const Matrix& m) {
  std::vector<float> w(static_cast<std::size_t>(m.rows * m.cols));
  const model::TensorView v = m.view();
  for (std::int64_t o = 0; o < m.rows; ++o) {
    model::dequantize_tensor_row(v, static_cast<std::uint64_t>(o),
                                 std::span<float>(w.data() + o * m.cols, static_cast<std::size_t>(m.cols)));
  }
  for (float& e : w) e = std::fabs(e);
  return w;
}

// Floating-point tolerance: the reference sums cols products in order in fp32; the kernels sum
// exact integers per super-block and accumulate cols/256 (SIMD: per lane, then a tree) fp32
// terms. Both errors are far below 3e-5 of sum |w x| (random-walk: sqrt(2048) * 2^-24 ~ 3e-6).
constexpr double kFloatTolerance = 3e-5;

// Activation-quantization bound: each x is rounded to its super-block's step d = amax / 127, so
// |x - d q| <= d / 2 and |y - y_q| <= sum |w| * d / 2.
double activation_bound(const std::vector<float>& absw, std::int64_t o, const float* x,
                        std::int64_t cols) {
  double bound = 0.0;
  for (std::int64_t b = 0; b < cols / 256; ++b) {
    double amax = 0.0;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(static_cast<double>(x[b * 256 + i])));
    double sum_w = 0.0;
    for (int i = 0; i < 256; ++i) sum_w += absw[static_cast<std::size_t>(o * cols + b * 256 + i)];
    bound += sum_w * amax / 127.0 / 2.0 * 1.0001;
  }
  return bound;
}

double sum_abs_product(const std::vector<float>& absw, std::int64_t o, const float* x,
                       std::int64_t cols) {
  double s = 0.0;
  for (std::int64_t i = 0; i < cols; ++i)
    s += static_cast<double>(absw[static_cast<std::size_t>(o * cols + i)]) * std::fabs(x[i]);
  return s;
}

// Activations that the 8-bit format holds exactly: per super-block, integers in -127..127 with
// one of them +-127 (so the step is exactly 1), times a power of two.
std::vector<float> exact_activations(std::int64_t n, std::int64_t cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<float> x(static_cast<std::size_t>(n * cols));
  for (std::int64_t t = 0; t < n; ++t) {
    for (std::int64_t b = 0; b < cols / 256; ++b) {
      const float scale = std::ldexp(1.0f, static_cast<int>((t + b) % 5) - 6);
      float* xb = x.data() + t * cols + b * 256;
      for (int i = 0; i < 256; ++i) xb[i] = static_cast<float>(dist(rng)) * scale;
      xb[(t * 7 + b * 13) % 256] = ((t + b) % 2 ? 127.0f : -127.0f) * scale;
    }
  }
  return x;
}

// Every supported ISA's y (all rows and tokens, from packed w) within tolerance(o, xt) of ref;
// xt is token t's activations, what names the case in failure messages.
template <class Tolerance>
void check_against_reference(const Matrix& m, const Packed& w, const std::vector<float>& x,
                             std::int64_t n, const std::vector<float>& ref,
                             const std::string& what, Tolerance tolerance) {
  const std::int64_t rows = m.rows, cols = m.cols;
  for (Isa isa : supported_isas()) {
    const auto a = prepare(m.type, isa, x, n, cols);
    const std::vector<float> y = run(w, isa, *a, n, 0, rows, rows);
    for (std::int64_t t = 0; t < n; ++t) {
      for (std::int64_t o = 0; o < rows; ++o) {
        const double tol = tolerance(o, x.data() + t * cols);
        ASSERT_NEAR(y[t * rows + o], ref[t * rows + o], tol)
            << isa_name(isa) << what << " token " << t << " row " << o;
      }
    }
  }
}

class KQuantMatmulTest : public ::testing::TestWithParam<TensorType> {};

std::string type_name(const ::testing::TestParamInfo<TensorType>& info) {
  return info.param == TensorType::Q4_K ? "Q4_K" : "Q6_K";
}

// With exactly representable activations the only difference to the reference is fp32
// rounding: a wrong scale, min or nibble would show far above kFloatTolerance (the
// WrongScaleOrMinFails test checks that it does).
TEST_P(KQuantMatmulTest, ExactActivationsMatchReference) {
  const TensorType type = GetParam();
  for (std::int64_t cols : {256, 2048}) {
    const std::int64_t rows = 37, n = 5;
    const Matrix m = make_matrix(type, rows, cols, 11 + static_cast<std::uint32_t>(cols));
    const auto w = pack(m);
    const std::vector<float> x = exact_activations(n, cols, 5);
    const std::vector<float> ref = reference_y(m, x, n);
    const std::vector<float> absw = abs_weights(m);
    ASSERT_NO_FATAL_FAILURE(check_against_reference(
        m, *w, x, n, ref, " cols " + std::to_string(cols), [&](std::int64_t o, const float* xt) {
          return kFloatTolerance * sum_abs_product(absw, o, xt, cols);
        }));
  }
}

// Gaussian activations: within the activation-quantization bound of the fp32 reference.
TEST_P(KQuantMatmulTest, GaussianActivationsWithinQuantizationBound) {
  const TensorType type = GetParam();
  const std::int64_t rows = 53, cols = 2048, n = 6;
  const Matrix m = make_matrix(type, rows, cols, 3);
  const auto w = pack(m);
  const std::vector<float> x = gaussian(static_cast<std::size_t>(n * cols), 9);
  const std::vector<float> ref = reference_y(m, x, n);
  const std::vector<float> absw = abs_weights(m);
  check_against_reference(m, *w, x, n, ref, "", [&](std::int64_t o, const float* xt) {
    return activation_bound(absw, o, xt, cols) +
           kFloatTolerance * sum_abs_product(absw, o, xt, cols);
  });
}

// The tolerance of ExactActivationsMatchReference is tight enough to catch a wrong scale or
// min: changing one 6-bit scale / min (Q4_K) or one int8 scale (Q6_K) of the first sub-block
// in every super-block moves most outputs out of it.
TEST_P(KQuantMatmulTest, WrongScaleOrMinFails) {
  const TensorType type = GetParam();
  const std::int64_t rows = 32, cols = 2048, n = 1;
  const Matrix m = make_matrix(type, rows, cols, 21);
  const auto w = pack(m);
  const std::vector<float> x = exact_activations(n, cols, 8);
  const std::vector<float> absw = abs_weights(m);
  const std::size_t block_bytes = type == TensorType::Q4_K ? 144 : 210;
  // Q4_K: scales[0] / scales[4] hold sub-block 0's scale / min; Q6_K: scales at byte 192.
  const std::vector<std::size_t> offsets =
      type == TensorType::Q4_K ? std::vector<std::size_t>{4, 8} : std::vector<std::size_t>{192};
  for (std::size_t offset : offsets) {
    Matrix wrong = m;
    for (std::size_t b = 0; b < wrong.gguf.size() / block_bytes; ++b)
      wrong.gguf[b * block_bytes + offset] ^= 0x04;
    const std::vector<float> ref = reference_y(wrong, x, n);
    for (Isa isa : supported_isas()) {
      const auto a = prepare(type, isa, x, n, cols);
      const std::vector<float> y = run(*w, isa, *a, n, 0, rows, rows);
      int caught = 0;
      for (std::int64_t o = 0; o < rows; ++o) {
        const double tol = kFloatTolerance * sum_abs_product(absw, o, x.data(), cols);
        if (std::fabs(y[o] - ref[o]) > tol) ++caught;
      }
      EXPECT_GE(caught, rows * 9 / 10) << isa_name(isa) << " byte " << offset;
    }
  }
}

// y[t][o] has the same bits whatever the row range, n, tile or y_stride.
TEST_P(KQuantMatmulTest, BitIdenticalAcrossRowRangesAndTokenCounts) {
  const TensorType type = GetParam();
  const std::int64_t rows = 37, n_max = 7;
  for (std::int64_t cols : {256, 512, 2048}) {
    const Matrix m = make_matrix(type, rows, cols, 100 + static_cast<std::uint32_t>(cols));
    const auto w = pack(m);
    const std::vector<float> x = gaussian(static_cast<std::size_t>(n_max * cols), 17);
    for (Isa isa : supported_isas()) {
      const auto a = prepare(type, isa, x, n_max, cols);
      const std::vector<float> full = run(*w, isa, *a, n_max, 0, rows, rows);
      for (std::int64_t n = 1; n <= n_max; ++n) {
        const std::size_t y_stride = static_cast<std::size_t>(rows + 3);
        std::vector<float> y(y_stride * static_cast<std::size_t>(n), -7.0f);
        const std::int64_t cuts[] = {0, n % 3, 16, 16 + n, 33, rows};
        for (int c = 0; c + 1 < 6; ++c)
          matmul_kernel(type, isa).matmul(w->matrix, a->buffer.get(), a->stride, y.data(),
                                          y_stride, n, cuts[c], cuts[c + 1]);
        for (std::int64_t t = 0; t < n; ++t) {
          for (std::int64_t o = 0; o < rows; ++o) {
            ASSERT_EQ(std::bit_cast<std::uint32_t>(y[t * y_stride + o]),
                      std::bit_cast<std::uint32_t>(full[t * rows + o]))
                << isa_name(isa) << " cols " << cols << " n " << n << " token " << t << " row "
                << o;
          }
          for (std::int64_t o = rows; o < rows + 3; ++o) ASSERT_EQ(y[t * y_stride + o], -7.0f);
        }
      }
    }
  }
}

TEST_P(KQuantMatmulTest, IsasAgree) {
  const TensorType type = GetParam();
  const std::int64_t rows = 45, cols = 2048, n = 9;
  const Matrix m = make_matrix(type, rows, cols, 77);
  const auto w = pack(m);
  const std::vector<float> x = gaussian(static_cast<std::size_t>(n * cols), 78);
  const std::vector<float> absw = abs_weights(m);
  const auto a = prepare(type, Isa::Portable, x, n, cols);
  const std::vector<float> base = run(*w, Isa::Portable, *a, n, 0, rows, rows);
  for (Isa isa : supported_isas()) {
    const std::vector<float> y = run(*w, isa, *a, n, 0, rows, rows);
    for (std::int64_t t = 0; t < n; ++t)
      for (std::int64_t o = 0; o < rows; ++o)
        ASSERT_NEAR(y[t * rows + o], base[t * rows + o],
                    kFloatTolerance * sum_abs_product(absw, o, x.data() + t * cols, cols))
            << isa_name(isa) << " token " << t << " row " << o;
  }
}

TEST_P(KQuantMatmulTest, ActivationBytesIdenticalAcrossIsas) {
  const TensorType type = GetParam();
  for (std::int64_t cols : {256, 768, 2048}) {
    const std::size_t bytes = weight_format(type).activation_row_bytes(cols);
    EXPECT_EQ(bytes % 64, 0u);
    std::vector<float> x = gaussian(static_cast<std::size_t>(cols), 4, 3.0f);
    for (int i = 0; i < 256; ++i) x[static_cast<std::size_t>(i)] = 0.0f;  // an all-zero block
    const auto base = prepare(type, Isa::Portable, x, 1, cols);
    for (Isa isa : supported_isas()) {
      const auto a = prepare(type, isa, x, 1, cols);
      EXPECT_EQ(std::memcmp(a->buffer.get(), base->buffer.get(), bytes), 0) << isa_name(isa);
    }
  }
}

TEST_P(KQuantMatmulTest, PackedSizeWithinAFewPercentOfGguf) {
  const TensorType type = GetParam();
  const std::int64_t rows = 5632, cols = 2048;
  const double gguf = static_cast<double>(numerics::tensor_bytes(type, static_cast<std::uint64_t>(cols)) * rows);
  const double packed = static_cast<double>(weight_format(type).packed_bytes(rows, cols));
  EXPECT_LE(packed / gguf, 1.03);
}

INSTANTIATE_TEST_SUITE_P(Types, KQuantMatmulTest, ::testing::Values(TensorType::Q4_K, TensorType::Q6_K),
                         type_name);

TEST(KQuantMatmulDispatchTest, RejectsOtherTypes) {
  EXPECT_ANY_THROW(kernels::kquant_weight_format(TensorType::Q8_0));
  EXPECT_ANY_THROW(kernels::kquant_matmul_kernel(TensorType::F32, Isa::Portable));
}

}  // namespace
}  // namespace lockstep::cpu
