// The attention vector kernels: the table per ISA level, and the portable versions.
#include "cpu/vector_kernels.h"

#include "core/error.h"
#include "cpu/vector_kernels_isa.h"
#include "numerics/half.h"

namespace lockstep::cpu {

void dot_fp16_rows_portable(const float* q, const std::uint16_t* k, std::size_t k_stride,
                            std::int64_t d, std::int64_t n_keys, float scale, float* scores) {
  for (std::int64_t j = 0; j < n_keys; ++j) {
    const std::uint16_t* row = k + j * k_stride;
    float sum = 0.0f;
    for (std::int64_t i = 0; i < d; ++i) sum += q[i] * numerics::fp16_to_fp32(row[i]);
    scores[j] = scale * sum;
  }
}

void weighted_sum_fp16_rows_portable(const float* p, const std::uint16_t* v,
                                     std::size_t v_stride, std::int64_t d, std::int64_t n_rows,
                                     float* out) {
  for (std::int64_t i = 0; i < d; ++i) out[i] = 0.0f;
  for (std::int64_t j = 0; j < n_rows; ++j) {
    const std::uint16_t* row = v + j * v_stride;
    for (std::int64_t i = 0; i < d; ++i) out[i] += p[j] * numerics::fp16_to_fp32(row[i]);
  }
}

void fp32_to_fp16_portable(const float* x, std::uint16_t* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = numerics::fp32_to_fp16(x[i]);
}

namespace {

constexpr VectorKernels kPortable{&dot_fp16_rows_portable, &weighted_sum_fp16_rows_portable,
                                  &fp32_to_fp16_portable};
constexpr VectorKernels kAvx2{&dot_fp16_rows_avx2, &weighted_sum_fp16_rows_avx2,
                              &fp32_to_fp16_avx2};
constexpr VectorKernels kAvx512{&dot_fp16_rows_avx512, &weighted_sum_fp16_rows_avx512,
                                &fp32_to_fp16_avx512};

}  // namespace

const VectorKernels& vector_kernels(Isa isa) {
  if (!isa_supported(isa)) fail("this processor does not support {} kernels", isa_name(isa));
  switch (isa) {
    case Isa::Portable: return kPortable;
    case Isa::Avx2: return kAvx2;
    case Isa::Avx512: return kAvx512;
  }
  fail("unknown ISA level");
}

}  // namespace lockstep::cpu
