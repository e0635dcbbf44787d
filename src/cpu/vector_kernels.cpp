// Placeholder until the kernels land.
#include "cpu/vector_kernels.h"

#include "core/error.h"

namespace lockstep::cpu {

const VectorKernels& vector_kernels(Isa) { fail("vector kernels are not built yet"); }

}  // namespace lockstep::cpu
