// Matrix products against stored weights of any supported type, in plain FP32.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "format/tensor_view.h"

namespace lockstep::reference {

// y[t][o] = sum_i W[o][i] * x[t][i] for t < n_tokens.
//   w: {in, out} weights, any supported type (each row is dequantized once per call)
//   x: [n_tokens][in] fp32, y: [n_tokens][out] fp32
// The sum runs over i in order, in fp32: a fixed reduction order, so results are the same bits
// on every run.
void matmul(const model::TensorView& w, std::span<const float> x, std::span<float> y,
            std::int64_t n_tokens);


// A whole tensor as fp32, for small tensors (norm weights, biases). [element_count] fp32.
std::vector<float> dequantize_tensor(const model::TensorView& t);

}  // namespace lockstep::reference
