// Q4_K and Q6_K weights (super-blocks of 256): activations quantized to 8-bit super-blocks of
// 256 with per-16 sums (as llama.cpp's Q8_K), integer dot products, fp32 across super-blocks.
#pragma once

#include "cpu/matmul_kernels.h"

namespace lockstep::cpu::kernels {

const WeightFormat& kquant_weight_format(numerics::TensorType type);        // Q4_K, Q6_K
const MatmulKernel& kquant_matmul_kernel(numerics::TensorType type, Isa isa);

}  // namespace lockstep::cpu::kernels
