// Q4_K / Q6_K matmul kernels on one thread.
//   Decode (n = 1): weight bytes streamed per second, cycling over copies of the matrix that
//   total >= 1 GiB, so every call reads from memory (compare with the ~12-14 GB/s one core
//   reads). Counter "bytes/s" = packed bytes / time.
//   Prefill (n = 64, 256): "ops/s" = 2 * rows * cols * n / time (one multiply-add = 2 ops).
// Arguments: type (0 = Q4_K, 1 = Q6_K), rows, cols, n, ISA (0 portable, 1 avx2, 2 avx512).
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/isa.h"
#include "cpu/matmul_kernels.h"
#include "numerics/quantize.h"
#include "numerics/tensor_type.h"

namespace {

using lockstep::cpu::Isa;
using lockstep::numerics::TensorType;

constexpr std::size_t kHugePage = std::size_t{2} << 20;

struct HugeBuffer {
  std::uint8_t* data = nullptr;
  explicit HugeBuffer(std::size_t bytes) {
    const std::size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    data = static_cast<std::uint8_t*>(std::aligned_alloc(kHugePage, size));
    madvise(data, size, MADV_HUGEPAGE);
    std::memset(data, 0, size);
  }
  ~HugeBuffer() { std::free(data); }
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
};

// One packed {cols, rows} matrix of gaussian weights.
std::vector<std::uint8_t> packed_matrix(TensorType type, std::int64_t rows, std::int64_t cols) {
  const std::size_t row_bytes = lockstep::numerics::tensor_bytes(type, static_cast<std::uint64_t>(cols));
  std::vector<std::uint8_t> gguf(row_bytes * static_cast<std::size_t>(rows));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> row(static_cast<std::size_t>(cols));
  for (std::int64_t o = 0; o < rows; ++o) {
    for (float& v : row) v = dist(rng);
    lockstep::numerics::quantize_row(type, row.data(), gguf.data() + row_bytes * o, cols);
  }
  const auto& format = lockstep::cpu::weight_format(type);
  std::vector<std::uint8_t> packed(format.packed_bytes(rows, cols));
  format.pack(gguf.data(), packed.data(), rows, cols, 0, rows);
  return packed;
}

void BM_kquant_matmul(benchmark::State& state) {
  const TensorType type = state.range(0) == 0 ? TensorType::Q4_K : TensorType::Q6_K;
  const std::int64_t rows = state.range(1), cols = state.range(2), n = state.range(3);
  const auto isa = static_cast<Isa>(state.range(4));
  if (!lockstep::cpu::isa_supported(isa)) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  const auto& format = lockstep::cpu::weight_format(type);
  const auto& kernel = lockstep::cpu::matmul_kernel(type, isa);
  const std::size_t matrix_bytes = format.packed_bytes(rows, cols);
  const std::size_t stride = (matrix_bytes + 4095) / 4096 * 4096;
  // Decode cycles over >= 1 GiB of copies; prefill reuses one matrix (compute-bound).
  const std::size_t copies = n == 1 ? ((std::size_t{1} << 30) + matrix_bytes - 1) / matrix_bytes : 1;
  HugeBuffer weights(stride * copies);
  const std::vector<std::uint8_t> one = packed_matrix(type, rows, cols);
  for (std::size_t c = 0; c < copies; ++c) std::memcpy(weights.data + c * stride, one.data(), one.size());

  const std::size_t x_stride = format.activation_row_bytes(cols);
  HugeBuffer x(x_stride * static_cast<std::size_t>(n));
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> xf(static_cast<std::size_t>(cols));
  for (std::int64_t t = 0; t < n; ++t) {
    for (float& v : xf) v = dist(rng);
    kernel.prepare_activation(xf.data(), x.data + t * x_stride, cols);
  }
  std::vector<float> y(static_cast<std::size_t>(rows * n));

  std::size_t c = 0;
  for (auto _ : state) {
    const lockstep::cpu::PackedMatrix w{type, rows, cols, weights.data + c * stride};
    kernel.matmul(w, x.data, x_stride, y.data(), static_cast<std::size_t>(rows), n, 0, rows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
    if (++c == copies) c = 0;
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["bytes/s"] = benchmark::Counter(iters * static_cast<double>(matrix_bytes),
                                                 benchmark::Counter::kIsRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["ops/s"] = benchmark::Counter(iters * 2.0 * static_cast<double>(rows * cols * n),
                                               benchmark::Counter::kIsRate,
                                               benchmark::Counter::kIs1000);
  state.SetLabel(std::string(type == TensorType::Q4_K ? "Q4_K " : "Q6_K ") + lockstep::cpu::isa_name(isa));
}

void args(benchmark::internal::Benchmark* b) {
  for (int isa = 0; isa < 3; ++isa) {
    for (int type = 0; type < 2; ++type) {
      for (std::int64_t rows : {2048, 5632}) {
        for (std::int64_t n : {1, 64, 256}) {
          if (isa == 0 && n > 1) continue;  // the portable path is only a fallback
          b->Args({type, rows, 2048, n, isa});
        }
      }
    }
  }
}

BENCHMARK(BM_kquant_matmul)
    ->ArgNames({"type", "rows", "cols", "n", "isa"})
    ->Apply(args)
    ->Unit(benchmark::kMicrosecond)
    ;  // CPU time, not real time: the machine is shared, a descheduled thread should not count

}  // namespace
