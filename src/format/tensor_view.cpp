#include "format/tensor_view.h"

#include "core/error.h"
#include "numerics/dequantize.h"

namespace lockstep::model {

void dequantize_tensor_row(const TensorView& t, std::uint64_t row, std::span<float> out) {
  const std::uint64_t width = t.row_length();
  if (row >= t.row_count() || out.size() != width)
    fail("row {} of tensor '{}' is out of range", row, t.name);
  const std::size_t row_bytes = numerics::tensor_bytes(t.type, width);
  numerics::dequantize_row(t.type, t.data.data() + row * row_bytes, out.data(),
                           static_cast<std::int64_t>(width));
}

}  // namespace lockstep::model
