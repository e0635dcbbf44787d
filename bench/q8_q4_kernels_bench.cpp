// Q8_0 / Q4_0 matmul kernels (src/cpu/kernels/q8_q4_matmul*.cpp), one thread unless the name
// says threads:2 (rows split in two halves, a spinning helper thread, as the backend splits).
//   n = 1 (decode): bytes_per_second = packed weight bytes streamed per second; the matrices
//     cycled over total >= 1 GiB so the L3 (260 MiB) cannot hold them.
//   n = 64, 256 (prefill): ops_per_second = 2 * rows * cols * n per second (multiply + add).
// Shapes: rows x cols = 2048 x 2048 (attention q/o) and 5632 x 2048 (TinyLlama FFN up/gate).
// Rates are per second of the timing thread's CPU time (Google Benchmark's default), which equals
// wall time on a quiet machine and stays meaningful on a loaded one (the helpers share 2 cores).
// Args: {type (8 = Q8_0, 2 = Q4_0), rows, cols, n, isa (0 portable, 1 avx2, 2 avx512)}.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "cpu/isa.h"
#include "cpu/matmul_kernels.h"
#include "numerics/tensor_type.h"

namespace {

using lockstep::cpu::Isa;
using lockstep::cpu::MatmulKernel;
using lockstep::cpu::PackedMatrix;
using lockstep::cpu::WeightFormat;
using lockstep::numerics::TensorType;

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kStreamBytes = std::size_t{1} << 30;  // decode cycles over >= 1 GiB

struct Arena {
  std::uint8_t* data = nullptr;
  explicit Arena(std::size_t bytes) {
    bytes = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    data = static_cast<std::uint8_t*>(std::aligned_alloc(kHugePage, bytes));
    madvise(data, bytes, MADV_HUGEPAGE);
    std::memset(data, 0, bytes);
  }
  ~Arena() { std::free(data); }
};

// Random GGUF blocks (quants any byte, scales small) packed once, then copied `copies` times.
struct Matrices {
  std::vector<PackedMatrix> list;
  std::size_t bytes_each = 0;
  Arena arena;
  Matrices(TensorType type, std::int64_t rows, std::int64_t cols, std::size_t copies)
      : bytes_each((lockstep::cpu::weight_format(type).packed_bytes(rows, cols) + 4095) / 4096 * 4096),
        arena(bytes_each * copies) {
    const WeightFormat& format = lockstep::cpu::weight_format(type);
    const std::size_t block = type == TensorType::Q8_0 ? 34 : 18;
    std::vector<std::uint8_t> gguf(block * static_cast<std::size_t>(rows * cols / 32));
    std::mt19937 rng(1);
    for (std::size_t b = 0; b < gguf.size() / block; ++b) {
      gguf[b * block] = 0;
      gguf[b * block + 1] = static_cast<std::uint8_t>(0x10 + rng() % 8);  // fp16 ~ 2^-11
      for (std::size_t i = 2; i < block; ++i) gguf[b * block + i] = static_cast<std::uint8_t>(rng());
    }
    format.pack(gguf.data(), arena.data, rows, cols, 0, rows);
    for (std::size_t c = 0; c < copies; ++c) {
      if (c > 0) std::memcpy(arena.data + c * bytes_each, arena.data, bytes_each);
      list.push_back(PackedMatrix{type, rows, cols, arena.data + c * bytes_each});
    }
  }
};

// A helper thread that runs the second half of the rows when told to (spin wait: no system
// call on the timed path).
class Helper {
 public:
  template <typename Work>
  explicit Helper(Work work) : thread_([this, work] {
      std::uint64_t seen = 0;
      while (true) {
        std::uint64_t g;
        while ((g = go_.load(std::memory_order_acquire)) == seen) {}
        if (g == ~std::uint64_t{0}) return;
        seen = g;
        work(index_.load(std::memory_order_relaxed));
        done_.store(g, std::memory_order_release);
      }
    }) {}
  void start(std::size_t index) {
    index_.store(index, std::memory_order_relaxed);
    go_.store(++generation_, std::memory_order_release);
  }
  void wait() { while (done_.load(std::memory_order_acquire) != generation_) {} }
  ~Helper() {
    go_.store(~std::uint64_t{0}, std::memory_order_release);
    thread_.join();
  }

 private:
  std::atomic<std::uint64_t> go_{0}, done_{0};
  std::atomic<std::size_t> index_{0};
  std::uint64_t generation_ = 0;
  std::thread thread_;
};

void BM_Matmul(benchmark::State& state, int threads) {
  const auto type = static_cast<TensorType>(state.range(0));
  const std::int64_t rows = state.range(1), cols = state.range(2), n = state.range(3);
  const auto isa = static_cast<Isa>(state.range(4));
  if (!lockstep::cpu::isa_supported(isa)) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  const WeightFormat& format = lockstep::cpu::weight_format(type);
  const MatmulKernel& kernel = lockstep::cpu::matmul_kernel(type, isa);
  const std::size_t one = format.packed_bytes(rows, cols);
  const std::size_t copies = n == 1 ? (kStreamBytes + one - 1) / one : 1;
  Matrices m(type, rows, cols, copies);

  const std::size_t x_stride = format.activation_row_bytes(cols);
  Arena x(x_stride * static_cast<std::size_t>(n));
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> xf(static_cast<std::size_t>(cols));
  for (std::int64_t t = 0; t < n; ++t) {
    for (auto& v : xf) v = normal(rng);
    kernel.prepare_activation(xf.data(), x.data + t * x_stride, cols);
  }
  std::vector<float> y(static_cast<std::size_t>(rows * n));
  const std::int64_t split = threads == 2 ? (rows / 2 + 15) / 16 * 16 : rows;

  auto part = [&](std::size_t index, std::int64_t begin, std::int64_t end) {
    kernel.matmul(m.list[index], x.data, x_stride, y.data(), static_cast<std::size_t>(rows), n,
                  begin, end);
  };
  std::size_t index = 0;
  if (threads == 2) {
    Helper helper([&](std::size_t i) { part(i, split, rows); });
    for (auto _ : state) {
      helper.start(index);
      part(index, 0, split);
      helper.wait();
      index = (index + 1) % m.list.size();
    }
  } else {
    for (auto _ : state) {
      part(index, 0, rows);
      index = (index + 1) % m.list.size();
    }
  }
  benchmark::DoNotOptimize(y.data());
  const double iterations = static_cast<double>(state.iterations());
  state.counters["bytes_per_second"] = benchmark::Counter(
      iterations * static_cast<double>(one), benchmark::Counter::kIsRate);
  state.counters["ops_per_second"] = benchmark::Counter(
      iterations * 2.0 * static_cast<double>(rows * cols * n), benchmark::Counter::kIsRate);
  state.counters["bytes_per_weight"] = static_cast<double>(one) / static_cast<double>(rows * cols);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int isa : {2, 1, 0}) {
    for (std::int64_t type : {8, 2}) {
      for (std::int64_t rows : {2048, 5632}) {
        for (std::int64_t n : {1, 64, 256}) {
          if (isa == 0 && n > 1) continue;  // the portable path is a reference, not a contender
          b->Args({type, rows, 2048, n, isa});
        }
      }
    }
  }
  b->ArgNames({"type", "rows", "cols", "n", "isa"});
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK_CAPTURE(BM_Matmul, threads:1, 1)->Apply(shapes);
BENCHMARK_CAPTURE(BM_Matmul, threads:2, 2)->Apply(shapes);

}  // namespace
