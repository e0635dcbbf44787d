// Placeholder until the kernels land: every call says they are missing.
#include "cpu/kernels/float_matmul.h"

#include "core/error.h"

namespace lockstep::cpu::kernels {

const WeightFormat& float_weight_format(numerics::TensorType) { fail("float kernels are not built yet"); }
const MatmulKernel& float_matmul_kernel(numerics::TensorType, Isa) {
  fail("float kernels are not built yet");
}

}  // namespace lockstep::cpu::kernels
