#include "reference/matmul.h"

#include "core/error.h"
#include "numerics/dequantize.h"

namespace lockstep::reference {

std::vector<float> dequantize_tensor(const model::TensorView& t) {
  std::vector<float> out(t.element_count());
  numerics::dequantize_row(t.type, t.data.data(), out.data(),
                           static_cast<std::int64_t>(out.size()));
  return out;
}

void matmul(const model::TensorView& w, std::span<const float> x, std::span<float> y,
            std::int64_t n_tokens) {
  const std::uint64_t in = w.row_length();
  const std::uint64_t out = w.row_count();
  std::vector<float> row(in);  // one dequantized weight row, reused for every token
  for (std::uint64_t o = 0; o < out; ++o) {
    model::dequantize_tensor_row(w, o, row);
    for (std::int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x.data() + t * in;
      float sum = 0.0f;
      for (std::uint64_t i = 0; i < in; ++i) sum += row[i] * xt[i];
      y[t * out + o] = sum;
    }
  }
}

}  // namespace lockstep::reference
