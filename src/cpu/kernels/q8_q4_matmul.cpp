// Q8_0 / Q4_0 weight formats (packing from GGUF blocks), the portable kernels and the per-ISA
// kernel tables. The layout and the arithmetic are described in q8_q4_layout.h.
#include "cpu/kernels/q8_q4_matmul.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "cpu/kernels/q8_q4_layout.h"
#include "numerics/half.h"

namespace lockstep::cpu::kernels {
namespace q8q4 {

using numerics::TensorType;

std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

// Repacks GGUF rows [row_begin, row_end) into panels (see q8_q4_layout.h).
template <bool kQ4>
void pack(const std::uint8_t* src, std::uint8_t* dst, std::int64_t rows, std::int64_t cols,
          std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  const std::int64_t gguf_block = kQ4 ? 18 : 34;
  const std::int64_t row_bytes = nb * gguf_block;
  const std::int64_t quant_bytes = panel_quant_bytes(kQ4, cols);
  const std::int64_t pbytes = panel_bytes(kQ4, cols);
  const std::int64_t chunks = kQ4 ? 4 : 8;
  // Writes row `lane` of panel `p`: GGUF row `row` (nullptr: a zero padding row).
  auto put_row = [&](std::int64_t p, std::int64_t lane, const std::uint8_t* row) {
    std::uint8_t* panel = dst + p * pbytes;
    for (std::int64_t b = 0; b < nb; ++b) {
      std::uint8_t* quants = panel + b * block_quant_bytes(kQ4);
      const std::uint8_t* block = row ? row + b * gguf_block : nullptr;
      for (std::int64_t c = 0; c < chunks; ++c) {
        for (std::int64_t j = 0; j < 4; ++j) {
          std::uint8_t v = kQ4 ? 0x88 : 0x80;  // weight 0
          if (block) {
            const std::uint8_t q = block[2 + 4 * c + j];
            v = kQ4 ? q : static_cast<std::uint8_t>(q ^ 0x80);
          }
          quants[c * 64 + 4 * lane + j] = v;
        }
      }
      std::uint8_t* scale = panel + quant_bytes + (b * kPanelRows + lane) * 2;
      scale[0] = block ? block[0] : 0;
      scale[1] = block ? block[1] : 0;
    }
  };
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    const std::int64_t p = r / kPanelRows;
    put_row(p, r % kPanelRows, src + r * row_bytes);
    if (r % kPanelRows == 0) {  // the owner of a panel's first row zeroes its scale padding
      const std::int64_t used = quant_bytes + nb * kPanelRows * 2;
      std::memset(dst + p * pbytes + used, 0, static_cast<std::size_t>(pbytes - used));
    }
  }
  if (row_end == rows) {
    for (std::int64_t r = rows; r < panel_count(rows) * kPanelRows; ++r) {
      put_row(r / kPanelRows, r % kPanelRows, nullptr);
    }
  }
}

std::size_t packed_bytes_q8(std::int64_t rows, std::int64_t cols) {
  return static_cast<std::size_t>(panel_count(rows) * panel_bytes(false, cols));
}
std::size_t packed_bytes_q4(std::int64_t rows, std::int64_t cols) {
  return static_cast<std::size_t>(panel_count(rows) * panel_bytes(true, cols));
}
std::size_t activation_row_bytes(std::int64_t cols) {
  return static_cast<std::size_t>(activation_bytes(cols));
}

// ---- portable kernels: the reference lane arithmetic, one output at a time ----

void prepare_activation_portable(const float* x, std::uint8_t* out, std::int64_t cols,
                                 std::int32_t offset) {
  const std::int64_t nb = cols / kBlock;
  const auto [q, d, bias] = activation_row(out, cols);
  std::memset(out, 0, static_cast<std::size_t>(activation_bytes(cols)));
  for (std::int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kBlock;
    float amax = 0.0f;
    for (std::int64_t i = 0; i < kBlock; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float db = amax >= kMinActivationAmax ? amax / 127.0f : 0.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    std::int32_t sum = 0;
    for (std::int64_t i = 0; i < kBlock; ++i) {
      // Round to nearest even (the default rounding mode), as vcvtps2dq does.
      const auto v = static_cast<std::int32_t>(std::nearbyint(xb[i] * id));
      q[b * kBlock + i] = static_cast<std::int8_t>(v);
      sum += v;
    }
    d[b] = db;
    bias[b] = -offset * sum;
  }
}

template <bool kQ4>
void matmul_portable(const std::uint8_t* w, std::int64_t rows, std::int64_t cols,
                     const std::uint8_t* x, std::size_t x_stride, float* y, std::size_t y_stride,
                     std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t nb = cols / kBlock;
  const std::int64_t quant_bytes = panel_quant_bytes(kQ4, cols);
  const std::int64_t pbytes = panel_bytes(kQ4, cols);
  for (std::int64_t o = row_begin; o < row_end; ++o) {
    const std::uint8_t* panel = w + o / kPanelRows * pbytes;
    const std::int64_t lane = o % kPanelRows;
    for (std::int64_t t = 0; t < n; ++t) {
      const std::uint8_t* xt = x + static_cast<std::size_t>(t) * x_stride;
      const auto* q = reinterpret_cast<const std::int8_t*>(xt);
      const auto* d = reinterpret_cast<const float*>(xt + activation_q_bytes(cols));
      float acc = 0.0f;
      for (std::int64_t b = 0; b < nb; ++b) {
        const std::uint8_t* quants = panel + b * block_quant_bytes(kQ4) + 4 * lane;
        const std::int8_t* qb = q + b * kBlock;
        std::int32_t s = 0;
        for (std::int64_t c = 0; c < (kQ4 ? 4 : 8); ++c) {
          for (std::int64_t j = 0; j < 4; ++j) {
            const std::uint8_t u = quants[c * 64 + j];
            if (kQ4) {
              s += ((u & 0xF) - 8) * qb[4 * c + j] + ((u >> 4) - 8) * qb[16 + 4 * c + j];
            } else {
              s += (u - 128) * qb[4 * c + j];
            }
          }
        }
        const float dw = numerics::fp16_to_fp32(
            load_u16(panel + quant_bytes + (b * kPanelRows + lane) * 2));
        acc = std::fma(static_cast<float>(s), dw * d[b], acc);
      }
      y[static_cast<std::size_t>(t) * y_stride + static_cast<std::size_t>(o)] = acc;
    }
  }
}

LOCKSTEP_Q8Q4_DEFINE_MATMULS(portable, matmul_portable)

// ---- adapters from the C-style entry points to MatmulKernel ----

using MatmulFn = void (*)(const std::uint8_t*, std::int64_t, std::int64_t, const std::uint8_t*,
                          std::size_t, float*, std::size_t, std::int64_t, std::int64_t,
                          std::int64_t);
using PrepareFn = void (*)(const float*, std::uint8_t*, std::int64_t, std::int32_t);

template <PrepareFn kPrepare, MatmulFn kMatmul, bool kQ4>
constexpr MatmulKernel make_kernel() {
  return MatmulKernel{
      [](const float* x, std::uint8_t* out, std::int64_t cols) {
        kPrepare(x, out, cols, activation_offset(kQ4));
      },
      [](const PackedMatrix& w, const std::uint8_t* x, std::size_t x_stride, float* y,
         std::size_t y_stride, std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
        if (n <= 0 || row_begin >= row_end) return;
        kMatmul(w.data, w.rows, w.cols, x, x_stride, y, y_stride, n, row_begin, row_end);
      }};
}

}  // namespace q8q4

const WeightFormat& q8_q4_weight_format(numerics::TensorType type) {
  static const WeightFormat q8{numerics::TensorType::Q8_0, q8q4::packed_bytes_q8,
                               q8q4::pack<false>, q8q4::activation_row_bytes};
  static const WeightFormat q4{numerics::TensorType::Q4_0, q8q4::packed_bytes_q4,
                               q8q4::pack<true>, q8q4::activation_row_bytes};
  switch (type) {
    case numerics::TensorType::Q8_0: return q8;
    case numerics::TensorType::Q4_0: return q4;
    default: break;
  }
  fail("the q8_0/q4_0 kernels do not handle tensor type {}",
       numerics::tensor_type_info(type).name);
}

const MatmulKernel& q8_q4_matmul_kernel(numerics::TensorType type, Isa isa) {
  using namespace q8q4;
  static const MatmulKernel kernels[3][2] = {
      {make_kernel<prepare_activation_portable, matmul_q8_0_portable, false>(),
       make_kernel<prepare_activation_portable, matmul_q4_0_portable, true>()},
      {make_kernel<prepare_activation_avx2, matmul_q8_0_avx2, false>(),
       make_kernel<prepare_activation_avx2, matmul_q4_0_avx2, true>()},
      {make_kernel<prepare_activation_avx512, matmul_q8_0_avx512, false>(),
       make_kernel<prepare_activation_avx512, matmul_q4_0_avx512, true>()},
  };
  int t = 0;
  switch (type) {
    case numerics::TensorType::Q8_0: t = 0; break;
    case numerics::TensorType::Q4_0: t = 1; break;
    default:
      fail("the q8_0/q4_0 kernels do not handle tensor type {}",
           numerics::tensor_type_info(type).name);
  }
  const int i = isa == Isa::Portable ? 0 : isa == Isa::Avx2 ? 1 : 2;
  return kernels[i][t];
}

}  // namespace lockstep::cpu::kernels
