// Placeholder until the kernels land: every call says they are missing.
#include "cpu/kernels/q8_q4_matmul.h"

#include "core/error.h"

namespace lockstep::cpu::kernels {

const WeightFormat& q8_q4_weight_format(numerics::TensorType) { fail("q8_q4 kernels are not built yet"); }
const MatmulKernel& q8_q4_matmul_kernel(numerics::TensorType, Isa) {
  fail("q8_q4 kernels are not built yet");
}

}  // namespace lockstep::cpu::kernels
