// Q8_0 / Q4_0 CPU kernels at every ISA level this machine runs, against reference::matmul on the
// same quantized weights.
//
// Tolerances. The kernel computes sum_b dw_b d_b sum_i w_i q_i, where the activation block
// (x_i) was replaced by d_b q_i with |x_i - d_b q_i| <= d_b / 2 = amax_b / 254. So:
// - against reference::matmul with the fp32 activations x, the difference is at most
//   sum_i |W_i| amax_b(i) / 254 (activation quantization) plus fp32 rounding of both sums;
// - against reference::matmul with the activations the kernel actually used (d_b q_i, decoded
//   from the prepared bytes), only fp32 rounding remains: both sides sum cols products in fp32,
//   bounded by (cols + nb + 4) * 2^-24 * sum_i |W_i d q_i|.
// A wrong block, row or scale changes a block's term by about |W| |x| sqrt(32), far beyond the
// first bound (about 32 |W| 2.5 sigma / 254); WrongScaleIsCaught checks that the comparison does
// catch one swapped scale (the first bound is exceeded about 1.4x, the second about 130x, where
// correct results stay below 0.4x and 0.07x of them).
// Bits: every output is one lane with a fixed sequence of float steps (q8_q4_layout.h), so the
// results must be bitwise equal across row ranges, n, tiles, and also across ISA levels.
#include "cpu/kernels/q8_q4_matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
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

struct FreeDeleter {
  void operator()(std::uint8_t* p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<std::uint8_t[], FreeDeleter>;

AlignedBytes aligned_bytes(std::size_t size, std::uint8_t fill) {
  const std::size_t rounded = (size + 63) / 64 * 64 + 64;
  auto* p = static_cast<std::uint8_t*>(std::aligned_alloc(64, rounded));
  std::memset(p, fill, rounded);
  return AlignedBytes(p);
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

std::string name(TensorType type) { return numerics::tensor_type_info(type).name; }

// fp32 values with a per-block magnitude that varies over three decades, so block scales
// differ and a swapped block shows.
std::vector<float> random_values(std::int64_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> decade(-1.5f, 1.5f);
  std::vector<float> v(static_cast<std::size_t>(count));
  float scale = 1.0f;
  for (std::int64_t i = 0; i < count; ++i) {
    if (i % 32 == 0) scale = std::pow(10.0f, decade(rng));
    v[static_cast<std::size_t>(i)] = normal(rng) * scale;
  }
  return v;
}

struct Weights {
  TensorType type;
  std::int64_t rows, cols;
  std::vector<std::uint8_t> gguf;  // [rows] GGUF rows of tensor_bytes(type, cols) bytes
  AlignedBytes packed;

  model::TensorView view() const {
    model::TensorView t;
    t.name = "w";
    t.type = type;
    t.shape = {static_cast<std::uint64_t>(cols), static_cast<std::uint64_t>(rows)};
    t.data = gguf;
    return t;
  }
  PackedMatrix matrix() const { return PackedMatrix{type, rows, cols, packed.get()}; }
};

// Packs in two row ranges (as two threads would), into a buffer full of garbage.
AlignedBytes pack(TensorType type, const std::vector<std::uint8_t>& gguf, std::int64_t rows,
                  std::int64_t cols, std::uint8_t garbage, std::int64_t split) {
  const WeightFormat& format = weight_format(type);
  AlignedBytes packed = aligned_bytes(format.packed_bytes(rows, cols), garbage);
  format.pack(gguf.data(), packed.get(), rows, cols, split, rows);
  format.pack(gguf.data(), packed.get(), rows, cols, 0, split);
  return packed;
}

Weights quantized_weights(TensorType type, std::int64_t rows, std::int64_t cols,
                          std::uint32_t seed) {
  Weights w{type, rows, cols, {}, nullptr};
  const std::size_t row_bytes = numerics::tensor_bytes(type, static_cast<std::uint64_t>(cols));
  w.gguf.resize(row_bytes * static_cast<std::size_t>(rows));
  const std::vector<float> values = random_values(rows * cols, seed);
  for (std::int64_t r = 0; r < rows; ++r)
    numerics::quantize_row(type, values.data() + r * cols, w.gguf.data() + r * row_bytes, cols);
  w.packed = pack(type, w.gguf, rows, cols, 0xCD, rows / 2);
  return w;
}

// Arbitrary block bytes: every quant value (Q8_0 -128..127, all Q4_0 nibbles), scales in
// [2^-12, 2^-4) of either sign.
Weights random_block_weights(TensorType type, std::int64_t rows, std::int64_t cols,
                             std::uint32_t seed) {
  Weights w{type, rows, cols, {}, nullptr};
  const std::size_t block = type == TensorType::Q8_0 ? 34 : 18;
  w.gguf.resize(block * static_cast<std::size_t>(rows * cols / 32));
  std::mt19937 rng(seed);
  for (std::size_t b = 0; b < w.gguf.size() / block; ++b) {
    std::uint8_t* p = w.gguf.data() + b * block;
    const std::uint16_t d = static_cast<std::uint16_t>((rng() & 0x8000u) | (0x0c00u + rng() % 0x2000u));
    p[0] = static_cast<std::uint8_t>(d & 0xFF);
    p[1] = static_cast<std::uint8_t>(d >> 8);
    for (std::size_t i = 2; i < block; ++i) p[i] = static_cast<std::uint8_t>(rng());
  }
  w.packed = pack(type, w.gguf, rows, cols, 0x5A, 17);
  return w;
}

struct Activations {
  std::int64_t n, cols;
  std::size_t stride;
  std::vector<float> x;  // [n][cols] fp32
  AlignedBytes prepared;  // [n] rows of `stride` bytes
};

Activations prepare(TensorType type, Isa isa, std::vector<float> x, std::int64_t n,
                    std::int64_t cols) {
  Activations a{n, cols, weight_format(type).activation_row_bytes(cols), std::move(x), nullptr};
  a.prepared = aligned_bytes(a.stride * static_cast<std::size_t>(n), 0xEE);
  for (std::int64_t t = 0; t < n; ++t)
    matmul_kernel(type, isa).prepare_activation(a.x.data() + t * cols,
                                               a.prepared.get() + t * a.stride, cols);
  return a;
}

// The activations the kernel uses, decoded from the prepared bytes: [n][cols] fp32 d_b * q_i.
std::vector<float> decoded(const Activations& a) {
  std::vector<float> out(a.x.size());
  const std::size_t q_bytes = (a.cols + 63) / 64 * 64;
  for (std::int64_t t = 0; t < a.n; ++t) {
    const std::uint8_t* row = a.prepared.get() + t * a.stride;
    for (std::int64_t i = 0; i < a.cols; ++i) {
      float d;
      std::memcpy(&d, row + q_bytes + 4 * (i / 32), 4);
      out[static_cast<std::size_t>(t * a.cols + i)] = d * static_cast<std::int8_t>(row[i]);
    }
  }
  return out;
}

// y: [n][y_stride] fp32, filled with NaN before the call.
std::vector<float> run(const Weights& w, Isa isa, const Activations& a, std::int64_t row_begin,
                       std::int64_t row_end, std::size_t y_stride, std::vector<float>* y = nullptr) {
  std::vector<float> local;
  if (!y) {
    local.assign(y_stride * static_cast<std::size_t>(a.n), std::nanf(""));
    y = &local;
  }
  matmul_kernel(w.type, isa).matmul(w.matrix(), a.prepared.get(), a.stride, y->data(), y_stride,
                                    a.n, row_begin, row_end);
  return *y;
}

std::vector<float> reference_matmul(const Weights& w, const std::vector<float>& x, std::int64_t n) {
  std::vector<float> y(static_cast<std::size_t>(n * w.rows));
  reference::matmul(w.view(), x, y, n);
  return y;
}

// Largest |y - ref| / bound over all outputs (> 1 means out of tolerance).
// bound_kind 0: activation quantization + rounding against fp32 x; 1: rounding only, against
// the decoded activations.
double worst_ratio(const Weights& w, const Activations& a, const std::vector<float>& y,
                   int bound_kind) {
  const std::vector<float> xq = decoded(a);
  const std::vector<float>& x = bound_kind == 0 ? a.x : xq;
  const std::vector<float> ref = reference_matmul(w, x, a.n);
  const std::vector<float> wf = reference::dequantize_tensor(w.view());
  const double u = std::ldexp(1.0, -24);
  double worst = 0.0;
  for (std::int64_t t = 0; t < a.n; ++t) {
    for (std::int64_t o = 0; o < w.rows; ++o) {
      double abs_sum = 0.0, quant = 0.0, amax = 0.0;
      for (std::int64_t i = 0; i < w.cols; ++i) {
        const double wi = std::fabs(wf[static_cast<std::size_t>(o * w.cols + i)]);
        if (i % 32 == 0) {
          amax = 0.0;
          for (std::int64_t k = i; k < i + 32; ++k)
            amax = std::max(amax, static_cast<double>(std::fabs(a.x[static_cast<std::size_t>(t * w.cols + k)])));
        }
        abs_sum += wi * std::fabs(x[static_cast<std::size_t>(t * w.cols + i)]);
        quant += wi * amax / 254.0;
      }
      const double rounding = static_cast<double>(w.cols + w.cols / 32 + 4) * u * (abs_sum + quant);
      const double bound = (bound_kind == 0 ? quant : 0.0) + rounding + 1e-30;
      const double diff = std::fabs(static_cast<double>(y[static_cast<std::size_t>(t * w.rows + o)]) -
                                    ref[static_cast<std::size_t>(t * w.rows + o)]);
      worst = std::max(worst, diff / bound);
    }
  }
  return worst;
}

void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b,
                      const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what;
}

class Q8Q4MatmulTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(Q8Q4MatmulTest, MatchesReferenceAtEveryIsa) {
  const TensorType type = GetParam();
  for (std::int64_t cols : {32, 64, 96, 2048}) {
    const Weights w = quantized_weights(type, 37, cols, 7);
    const std::int64_t n = 11;
    for (Isa isa : supported_isas()) {
      const Activations a = prepare(type, isa, random_values(n * cols, 99), n, cols);
      const std::vector<float> y = run(w, isa, a, 0, w.rows, static_cast<std::size_t>(w.rows));
      const std::string what = name(type) + " " + isa_name(isa) + " cols " + std::to_string(cols);
      EXPECT_LT(worst_ratio(w, a, y, 0), 1.0) << what;
      EXPECT_LT(worst_ratio(w, a, y, 1), 1.0) << what;
    }
  }
}

TEST_P(Q8Q4MatmulTest, ExtremeBlockBytesMatchReference) {
  const TensorType type = GetParam();
  const std::int64_t cols = 256, n = 5;
  const Weights w = random_block_weights(type, 37, cols, 3);
  std::vector<float> x = random_values(n * cols, 5);
  for (std::int64_t i = 0; i < cols; ++i) x[static_cast<std::size_t>(i)] = (i % 3 == 0) ? -2.0f : 2.0f;  // q = +-127
  for (Isa isa : supported_isas()) {
    const Activations a = prepare(type, isa, x, n, cols);
    const std::vector<float> y = run(w, isa, a, 0, w.rows, static_cast<std::size_t>(w.rows));
    EXPECT_LT(worst_ratio(w, a, y, 1), 1.0) << name(type) << " " << isa_name(isa);
  }
}

TEST_P(Q8Q4MatmulTest, WrongScaleIsCaught) {
  // Swap two block scales of row 5 in the packed matrix: the reference comparison must notice.
  const TensorType type = GetParam();
  const std::int64_t cols = 2048, n = 3;
  Weights w = quantized_weights(type, 37, cols, 11);
  const std::size_t quant_bytes = static_cast<std::size_t>(cols / 32) * (type == TensorType::Q8_0 ? 512 : 256);
  std::uint8_t* scales = w.packed.get() + quant_bytes;  // panel 0
  std::swap(scales[(3 * 16 + 5) * 2], scales[(40 * 16 + 5) * 2]);
  std::swap(scales[(3 * 16 + 5) * 2 + 1], scales[(40 * 16 + 5) * 2 + 1]);
  const Activations a = prepare(type, Isa::Portable, random_values(n * cols, 12), n, cols);
  const std::vector<float> y = run(w, Isa::Portable, a, 0, w.rows, static_cast<std::size_t>(w.rows));
  // Only two of 64 blocks of one row change, so the loose bound (a worst case summed over all
  // blocks) is exceeded by a small factor and the tight one by about 100x.
  EXPECT_GT(worst_ratio(w, a, y, 0), 1.0);
  EXPECT_GT(worst_ratio(w, a, y, 1), 20.0);
}

TEST_P(Q8Q4MatmulTest, BitsIndependentOfRowRangeTokenCountAndStride) {
  const TensorType type = GetParam();
  for (std::int64_t cols : {32, 64, 96, 2048}) {
    const Weights w = quantized_weights(type, 37, cols, 21);
    const std::int64_t n_max = 19;  // crosses the 8-token (AVX-512) and 4-token (AVX2) tiles
    const std::vector<float> x = random_values(n_max * cols, 22);
    for (Isa isa : supported_isas()) {
      const std::string what = name(type) + " " + isa_name(isa) + " cols " + std::to_string(cols);
      const Activations all = prepare(type, isa, x, n_max, cols);
      const std::size_t rows = static_cast<std::size_t>(w.rows);
      const std::vector<float> whole = run(w, isa, all, 0, w.rows, rows);
      // Split rows as threads might (aligned and not), into a wider output (y_stride > rows).
      const std::size_t wide = rows + 5;
      for (std::vector<std::int64_t> cuts : {std::vector<std::int64_t>{0, 16, 32, 37},
                                             std::vector<std::int64_t>{0, 5, 21, 36, 37}}) {
        std::vector<float> y(wide * n_max, std::nanf(""));
        for (std::size_t k = 0; k + 1 < cuts.size(); ++k) run(w, isa, all, cuts[k], cuts[k + 1], wide, &y);
        std::vector<float> packed_back;
        for (std::int64_t t = 0; t < n_max; ++t) {
          for (std::size_t o = 0; o < wide; ++o) {
            const float v = y[t * wide + o];
            if (o < rows) packed_back.push_back(v);
            else EXPECT_TRUE(std::isnan(v)) << what << ": wrote past row_end";
          }
        }
        expect_same_bits(whole, packed_back, what + " split rows");
      }
      // Fewer tokens (n = 1..7), starting at any token: the same bits as inside the big batch.
      for (std::int64_t n = 1; n <= 7; ++n) {
        for (std::int64_t start : {std::int64_t{0}, n_max - n}) {
          Activations part{n, cols, all.stride, {}, nullptr};
          part.prepared = aligned_bytes(all.stride * static_cast<std::size_t>(n), 0);
          std::memcpy(part.prepared.get(), all.prepared.get() + start * all.stride, all.stride * n);
          const std::vector<float> y = run(w, isa, part, 0, w.rows, rows);
          const std::vector<float> expected(whole.begin() + start * w.rows,
                                            whole.begin() + (start + n) * w.rows);
          expect_same_bits(expected, y, what + " n " + std::to_string(n));
        }
      }
    }
  }
}

TEST_P(Q8Q4MatmulTest, SameBitsAtEveryIsa) {
  // The lane arithmetic is defined once (q8_q4_layout.h): exact int32 block sums, then one fma
  // per block in block order. So the ISA levels agree bitwise, not just within tolerance.
  const TensorType type = GetParam();
  const std::int64_t cols = 2048, n = 13;
  const Weights w = quantized_weights(type, 37, cols, 31);
  const std::vector<float> x = random_values(n * cols, 32);
  const Activations base = prepare(type, Isa::Portable, x, n, cols);
  const std::vector<float> expected = run(w, Isa::Portable, base, 0, w.rows, static_cast<std::size_t>(w.rows));
  for (Isa isa : supported_isas()) {
    const Activations a = prepare(type, isa, x, n, cols);
    EXPECT_EQ(std::memcmp(a.prepared.get(), base.prepared.get(), a.stride * n), 0) << isa_name(isa);
    expect_same_bits(expected, run(w, isa, a, 0, w.rows, static_cast<std::size_t>(w.rows)), isa_name(isa));
  }
}

TEST_P(Q8Q4MatmulTest, PreparedActivationsAreTheSameBytesAtEveryIsa) {
  const TensorType type = GetParam();
  for (std::int64_t cols : {32, 96, 2048}) {
    std::vector<float> x = random_values(cols, 41);
    for (std::int64_t i = 0; i < 32; ++i) x[static_cast<std::size_t>(i)] = 0.0f;  // an all-zero block
    if (cols > 32) {
      // amax 127 makes d = 1 and id = 1: the other values are exact ties (k + 0.5).
      for (std::int64_t i = 32; i < 64; ++i)
        x[static_cast<std::size_t>(i)] = i == 32 ? 127.0f : static_cast<float>(i - 48) + 0.5f;
    }
    if (cols > 64) {
      for (std::int64_t i = 64; i < 96; ++i)  // tiny values: 1 / d would overflow fp32
        x[static_cast<std::size_t>(i)] = static_cast<float>(i - 80) * 1e-38f;
    }
    const Activations base = prepare(type, Isa::Portable, x, 1, cols);
    ASSERT_EQ(base.stride % 64, 0u);
    for (Isa isa : supported_isas()) {
      const Activations a = prepare(type, isa, x, 1, cols);
      EXPECT_EQ(std::memcmp(a.prepared.get(), base.prepared.get(), a.stride), 0)
          << name(type) << " " << isa_name(isa) << " cols " << cols;
    }
  }
}

TEST_P(Q8Q4MatmulTest, PackingIsIndependentOfTheSplitAndKeepsTheGgufSize) {
  const TensorType type = GetParam();
  const std::int64_t rows = 37, cols = 2048;
  const Weights w = quantized_weights(type, rows, cols, 51);
  const WeightFormat& format = weight_format(type);
  const std::size_t bytes = format.packed_bytes(rows, cols);
  for (std::int64_t split : {std::int64_t{0}, std::int64_t{16}, std::int64_t{23}, rows}) {
    AlignedBytes other = pack(type, w.gguf, rows, cols, 0x33, split);
    EXPECT_EQ(std::memcmp(other.get(), w.packed.get(), bytes), 0) << "split " << split;
  }
  // 48 padded rows of 2048: exactly the GGUF bytes of 48 rows.
  EXPECT_EQ(bytes, numerics::tensor_bytes(type, 48 * cols));
}

INSTANTIATE_TEST_SUITE_P(Types, Q8Q4MatmulTest, ::testing::Values(TensorType::Q8_0, TensorType::Q4_0),
                         [](const auto& info) { return name(info.param); });

}  // namespace
}  // namespace lockstep::cpu
