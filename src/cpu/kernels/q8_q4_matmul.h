// Q8_0 and Q4_0 weights (blocks of 32 with one fp16 scale): activations quantized to 8-bit
// blocks of 32, integer dot products per block (VNNI where present), fp32 across blocks.
#pragma once

#include "cpu/matmul_kernels.h"

namespace lockstep::cpu::kernels {

const WeightFormat& q8_q4_weight_format(numerics::TensorType type);         // Q8_0, Q4_0
const MatmulKernel& q8_q4_matmul_kernel(numerics::TensorType type, Isa isa);

}  // namespace lockstep::cpu::kernels
