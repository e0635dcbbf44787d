#include "lpu/sim/mxm_arithmetic.h"

#include <cstring>

#include "core/error.h"
#include "numerics/half.h"

namespace lockstep::lpu {

void MxmArray::install(ElementType type, const std::uint8_t* buffer, int rows, int installed_rows,
                       int vector_bytes) {
  if (type != ElementType::I8 && type != ElementType::F16)
    fail("MXM weights must be i8 or f16 (element type {})", static_cast<int>(type));
  if (rows <= 0 || installed_rows < 0 || installed_rows > rows)
    fail("cannot install {} rows into an array of {}", installed_rows, rows);
  type_ = type;
  rows_ = rows;
  installed_rows_ = installed_rows;
  vector_bytes_ = vector_bytes;
  depth_ = type == ElementType::I8 ? vector_bytes : vector_bytes / 2;
  raw_.assign(buffer, buffer + static_cast<std::size_t>(installed_rows) * vector_bytes);
  prepared_ = false;
}

void MxmArray::prepare() {
  const std::size_t cells = static_cast<std::size_t>(depth_) * rows_;
  if (type_ == ElementType::I8) {
    i8_.assign(cells, 0);
    for (int r = 0; r < installed_rows_; ++r)
      for (int k = 0; k < depth_; ++k)
        i8_[static_cast<std::size_t>(k) * rows_ + r] =
            static_cast<std::int8_t>(raw_[static_cast<std::size_t>(r) * vector_bytes_ + k]);
  } else {
    f16_.assign(cells, 0.0f);
    for (int r = 0; r < installed_rows_; ++r)
      for (int k = 0; k < depth_; ++k) {
        std::uint16_t h;
        std::memcpy(&h, raw_.data() + static_cast<std::size_t>(r) * vector_bytes_ + 2 * k, 2);
        f16_[static_cast<std::size_t>(k) * rows_ + r] = numerics::fp16_to_fp32(h);
      }
  }
  prepared_ = true;
}

void MxmArray::compute(const std::uint8_t* x, bool accumulate, std::uint8_t* acc) {
  if (!installed()) fail("MXM compute with no installed weights");
  if (!prepared_) prepare();
  const int rows = rows_;
  if (type_ == ElementType::I8) {
    std::vector<std::int32_t> sum(rows, 0);
    for (int k = 0; k < depth_; ++k) {
      const std::int32_t xk = static_cast<std::int8_t>(x[k]);
      const std::int32_t* w = i8_.data() + static_cast<std::size_t>(k) * rows;
      for (int r = 0; r < rows; ++r) sum[r] += w[r] * xk;
    }
    for (int r = 0; r < rows; ++r) {
      std::uint32_t out = static_cast<std::uint32_t>(sum[r]);
      if (accumulate) {
        std::uint32_t old;
        std::memcpy(&old, acc + 4 * r, 4);
        out += old;  // wraps modulo 2^32
      }
      std::memcpy(acc + 4 * r, &out, 4);
    }
    return;
  }
  // F16: each row's sum runs over k in order; the loop over rows inside only interleaves rows.
  std::vector<float> sum(rows, 0.0f);
  for (int k = 0; k < depth_; ++k) {
    std::uint16_t h;
    std::memcpy(&h, x + 2 * k, 2);
    const float xk = numerics::fp16_to_fp32(h);
    const float* w = f16_.data() + static_cast<std::size_t>(k) * rows;
    for (int r = 0; r < rows; ++r) {
      const float product = w[r] * xk;  // exact in f32
      sum[r] = sum[r] + product;
    }
  }
  for (int r = 0; r < rows; ++r) {
    float out = sum[r];
    if (accumulate) {
      float old;
      std::memcpy(&old, acc + 4 * r, 4);
      out = old + out;
    }
    std::memcpy(acc + 4 * r, &out, 4);
  }
}

}  // namespace lockstep::lpu
