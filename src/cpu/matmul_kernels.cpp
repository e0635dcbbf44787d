#include "cpu/matmul_kernels.h"

#include "core/error.h"
#include "cpu/kernels/float_matmul.h"
#include "cpu/kernels/kquant_matmul.h"
#include "cpu/kernels/q8_q4_matmul.h"

namespace lockstep::cpu {
namespace {

using numerics::TensorType;

enum class Family { Float, Q8Q4, KQuant };

Family family_of(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16: return Family::Float;
    case TensorType::Q8_0:
    case TensorType::Q4_0: return Family::Q8Q4;
    case TensorType::Q4_K:
    case TensorType::Q6_K: return Family::KQuant;
    case TensorType::MXFP4: break;  // issue 17
  }
  fail("the CPU backend has no kernels for tensor type {}",
       numerics::ggml_type_name(static_cast<std::uint32_t>(type)));
}

}  // namespace

const WeightFormat& weight_format(TensorType type) {
  switch (family_of(type)) {
    case Family::Float: return kernels::float_weight_format(type);
    case Family::Q8Q4: return kernels::q8_q4_weight_format(type);
    case Family::KQuant: return kernels::kquant_weight_format(type);
  }
  fail("unreachable");
}

const MatmulKernel& matmul_kernel(TensorType type, Isa isa) {
  if (!isa_supported(isa)) fail("this processor does not support {} kernels", isa_name(isa));
  switch (family_of(type)) {
    case Family::Float: return kernels::float_matmul_kernel(type, isa);
    case Family::Q8Q4: return kernels::q8_q4_matmul_kernel(type, isa);
    case Family::KQuant: return kernels::kquant_matmul_kernel(type, isa);
  }
  fail("unreachable");
}

}  // namespace lockstep::cpu
