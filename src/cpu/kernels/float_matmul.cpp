// F32, F16 and BF16 weights: the packed format and the kernel table per ISA level. The layouts
// and the summation order are described in float_matmul_isa.h.
#include "cpu/kernels/float_matmul.h"

#include <cstring>

#include "core/error.h"
#include "cpu/kernels/float_matmul_isa.h"

namespace lockstep::cpu::kernels {
namespace {

using numerics::TensorType;

constexpr std::size_t round_up_64(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

template <TensorType T>
constexpr std::size_t element_bytes() {
  return T == TensorType::F32 ? 4 : 2;
}

template <TensorType T>
constexpr FloatWeight float_weight() {
  return T == TensorType::F32 ? FloatWeight::F32
         : T == TensorType::F16 ? FloatWeight::F16
                                : FloatWeight::BF16;
}

template <TensorType T>
std::size_t row_bytes(std::int64_t cols) {
  return round_up_64(static_cast<std::size_t>(cols) * element_bytes<T>());
}

template <TensorType T>
std::size_t packed_bytes(std::int64_t rows, std::int64_t cols) {
  return static_cast<std::size_t>(rows) * row_bytes<T>(cols);
}

// Rows as stored, each zero-padded to a multiple of 64 bytes.
template <TensorType T>
void pack(const std::uint8_t* src, std::uint8_t* dst, std::int64_t rows, std::int64_t cols,
          std::int64_t row_begin, std::int64_t row_end) {
  const std::size_t src_row = static_cast<std::size_t>(cols) * element_bytes<T>();
  const std::size_t dst_row = row_bytes<T>(cols);
  for (std::int64_t o = row_begin; o < row_end; ++o) {
    std::memcpy(dst + o * dst_row, src + o * src_row, src_row);
    std::memset(dst + o * dst_row + src_row, 0, dst_row - src_row);
  }
}

std::size_t activation_row_bytes(std::int64_t cols) {
  return round_up_64(static_cast<std::size_t>(cols) * sizeof(float));
}

// fp32 copy, zero-padded: the same bytes at every ISA level.
void prepare_activation(const float* x, std::uint8_t* out, std::int64_t cols) {
  const std::size_t bytes = static_cast<std::size_t>(cols) * sizeof(float);
  std::memcpy(out, x, bytes);
  std::memset(out + bytes, 0, activation_row_bytes(cols) - bytes);
}

template <TensorType T, FloatMatmulFn F>
void matmul(const PackedMatrix& w, const std::uint8_t* x, std::size_t x_stride, float* y,
            std::size_t y_stride, std::int64_t n, std::int64_t row_begin, std::int64_t row_end) {
  F(float_weight<T>(), w.data, row_bytes<T>(w.cols), w.cols, x, x_stride, y, y_stride, n,
    row_begin, row_end);
}

template <TensorType T>
constexpr WeightFormat format{T, &packed_bytes<T>, &pack<T>, &activation_row_bytes};

template <TensorType T>
constexpr MatmulKernel kernels[3] = {
    {&prepare_activation, &matmul<T, &float_matmul_portable>},
    {&prepare_activation, &matmul<T, &float_matmul_avx2>},
    {&prepare_activation, &matmul<T, &float_matmul_avx512>},
};

}  // namespace

const WeightFormat& float_weight_format(TensorType type) {
  switch (type) {
    case TensorType::F32: return format<TensorType::F32>;
    case TensorType::F16: return format<TensorType::F16>;
    case TensorType::BF16: return format<TensorType::BF16>;
    default: break;
  }
  fail("{} is not a float weight type", numerics::tensor_type_info(type).name);
}

const MatmulKernel& float_matmul_kernel(TensorType type, Isa isa) {
  const int level = static_cast<int>(isa);
  switch (type) {
    case TensorType::F32: return kernels<TensorType::F32>[level];
    case TensorType::F16: return kernels<TensorType::F16>[level];
    case TensorType::BF16: return kernels<TensorType::BF16>[level];
    default: break;
  }
  fail("{} is not a float weight type", numerics::tensor_type_info(type).name);
}

}  // namespace lockstep::cpu::kernels
