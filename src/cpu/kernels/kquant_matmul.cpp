// Placeholder until the kernels land: every call says they are missing.
#include "cpu/kernels/kquant_matmul.h"

#include "core/error.h"

namespace lockstep::cpu::kernels {

const WeightFormat& kquant_weight_format(numerics::TensorType) { fail("kquant kernels are not built yet"); }
const MatmulKernel& kquant_matmul_kernel(numerics::TensorType, Isa) {
  fail("kquant kernels are not built yet");
}

}  // namespace lockstep::cpu::kernels
