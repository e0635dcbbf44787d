// F32, F16 and BF16 weights: packed as plain rows, fp32 activations, fp32 fused multiply-add.
#pragma once

#include "cpu/matmul_kernels.h"

namespace lockstep::cpu::kernels {

const WeightFormat& float_weight_format(numerics::TensorType type);         // F32, F16, BF16
const MatmulKernel& float_matmul_kernel(numerics::TensorType type, Isa isa);

}  // namespace lockstep::cpu::kernels
