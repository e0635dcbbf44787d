// Float matmul kernels (F16, F32 weights) at the best ISA level of this machine:
// - n = 1 (decode): GB/s of packed weights streamed, over a set of copies of the matrix
//   totalling >= 1 GiB so that the 260 MiB L3 cannot serve them;
// - n = 64 / 256 (prefill): GFLOP/s (2 * rows * cols * n per call) on one matrix.
// Single-threaded (the backend splits rows over threads), plus a 2-thread variant that splits
// the rows in half between the calling thread and one spinning helper thread.
//
// Run: build/h/bench/float_kernels_bench --benchmark_repetitions=5
//      --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include "cpu/isa.h"
#include "cpu/matmul_kernels.h"
#include "numerics/half.h"
#include "numerics/tensor_type.h"

namespace lockstep::cpu {
namespace {

using numerics::TensorType;

constexpr std::size_t kStreamBytes = std::size_t{1} << 30;  // decode working set: 1 GiB

struct FreeDeleter {
  void operator()(std::uint8_t* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::uint8_t, FreeDeleter>;

Buffer allocate(std::size_t bytes) {
  const std::size_t rounded = (bytes + (2u << 20) - 1) / (2u << 20) * (2u << 20);
  auto* p = static_cast<std::uint8_t*>(std::aligned_alloc(2u << 20, rounded));
  madvise(p, rounded, MADV_HUGEPAGE);  // as the backend's weight arena
  std::memset(p, 0, rounded);
  return Buffer(p);
}

// `copies` packed copies of one random rows x cols matrix, back to back.
struct Matrices {
  TensorType type;
  std::int64_t rows, cols;
  std::size_t bytes;  // of one packed matrix
  int copies;
  Buffer data;

  PackedMatrix matrix(int i) const { return {type, rows, cols, data.get() + i * bytes}; }
};

const Matrices& matrices(TensorType type, std::int64_t rows, std::int64_t cols, bool stream) {
  static std::map<std::tuple<TensorType, std::int64_t, std::int64_t, bool>, Matrices> cache;
  const auto key = std::make_tuple(type, rows, cols, stream);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  const WeightFormat& format = weight_format(type);
  const std::size_t bytes = format.packed_bytes(rows, cols);
  const int copies = stream ? static_cast<int>((kStreamBytes + bytes - 1) / bytes) : 1;
  // Stored rows in GGUF layout: random values in [-1, 1).
  const std::size_t row_bytes = numerics::tensor_bytes(type, cols);
  std::vector<std::uint8_t> stored(row_bytes * rows);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < rows * cols; ++i) {
    const float v = dist(rng);
    if (type == TensorType::F32) {
      std::memcpy(stored.data() + 4 * i, &v, 4);
    } else {
      const std::uint16_t h = numerics::fp32_to_fp16(v);
      std::memcpy(stored.data() + 2 * i, &h, 2);
    }
  }
  Matrices m{type, rows, cols, bytes, copies, allocate(bytes * copies)};
  format.pack(stored.data(), m.data.get(), rows, cols, 0, rows);
  for (int c = 1; c < copies; ++c) std::memcpy(m.data.get() + c * bytes, m.data.get(), bytes);
  return cache.emplace(key, std::move(m)).first->second;
}

struct Activations {
  std::size_t stride;
  Buffer data;
};

Activations activations(const MatmulKernel& kernel, TensorType type, std::int64_t cols,
                        std::int64_t n) {
  const std::size_t stride = weight_format(type).activation_row_bytes(cols);
  Activations a{stride, allocate(stride * n)};
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(cols);
  for (std::int64_t t = 0; t < n; ++t) {
    for (auto& v : x) v = dist(rng);
    kernel.prepare_activation(x.data(), a.data.get() + t * stride, cols);
  }
  return a;
}

// One helper thread that runs the second half of each call; spins between calls.
class SecondThread {
 public:
  SecondThread() : worker_([this] { loop(); }) {}
  ~SecondThread() {
    stop_ = true;
    epoch_.fetch_add(1);
    worker_.join();
  }
  void run(std::function<void()> job, const std::function<void()>& mine) {
    job_ = std::move(job);
    done_.store(false);
    epoch_.fetch_add(1, std::memory_order_release);
    mine();
    while (!done_.load(std::memory_order_acquire)) {
    }
  }

 private:
  void loop() {
    int seen = 0;
    for (;;) {
      while (epoch_.load(std::memory_order_acquire) == seen) {
      }
      ++seen;
      if (stop_) return;
      job_();
      done_.store(true, std::memory_order_release);
    }
  }
  std::atomic<int> epoch_{0};
  std::atomic<bool> done_{false};
  bool stop_ = false;
  std::function<void()> job_;
  std::thread worker_;
};

void bench_matmul(benchmark::State& state, TensorType type, std::int64_t rows, std::int64_t cols,
                  int threads) {
  const std::int64_t n = state.range(0);
  const Isa isa = best_isa();
  const MatmulKernel& kernel = matmul_kernel(type, isa);
  const Matrices& m = matrices(type, rows, cols, n == 1);
  const Activations x = activations(kernel, type, cols, n);
  std::vector<float> y(n * rows);
  std::unique_ptr<SecondThread> second = threads == 2 ? std::make_unique<SecondThread>() : nullptr;
  const std::int64_t half = rows / 2 / 16 * 16;
  int c = 0;
  for (auto _ : state) {
    const PackedMatrix w = m.matrix(c);
    c = c + 1 == m.copies ? 0 : c + 1;
    if (second) {
      second->run(
          [&, w] { kernel.matmul(w, x.data.get(), x.stride, y.data(), rows, n, half, rows); },
          [&] { kernel.matmul(w, x.data.get(), x.stride, y.data(), rows, n, 0, half); });
    } else {
      kernel.matmul(w, x.data.get(), x.stride, y.data(), rows, n, 0, rows);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double calls = static_cast<double>(state.iterations());
  state.counters["weight_bytes/s"] = benchmark::Counter(
      calls * static_cast<double>(m.bytes), benchmark::Counter::kIsRate,
      benchmark::Counter::kIs1000);
  state.counters["FLOP/s"] = benchmark::Counter(calls * 2.0 * rows * cols * n,
                                                benchmark::Counter::kIsRate,
                                                benchmark::Counter::kIs1000);
  state.SetLabel(isa_name(isa));
}

void register_all() {
  struct Shape {
    const char* name;
    std::int64_t rows, cols;
  };
  const Shape shapes[] = {{"2048x2048", 2048, 2048}, {"5632x2048", 5632, 2048}};
  const std::pair<const char*, TensorType> types[] = {{"f16", TensorType::F16},
                                                      {"f32", TensorType::F32}};
  for (int threads : {1, 2}) {
    for (const auto& [type_name, type] : types) {
      for (const Shape& s : shapes) {
        const std::string name = std::string("matmul/") + type_name + "/" + s.name + "/threads:" +
                                 std::to_string(threads);
        auto* b = benchmark::RegisterBenchmark(
            name.c_str(), [=](benchmark::State& st) { bench_matmul(st, type, s.rows, s.cols, threads); });
        b->Arg(1)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond);
        if (threads == 2) b->UseRealTime();
      }
    }
  }
}

const int registered = (register_all(), 0);

}  // namespace
}  // namespace lockstep::cpu
