// The fast CPU target: the model lowered to a static plan of kernel calls (cpu/plan.h), run by a
// pinned thread team over one arena, with the weights repacked for the kernels and the KV cache
// in fp16. Logits are the same bits on every run and at every thread count, and a row's logits
// in forward_rows() are the bits it would get alone: batching sequences never changes output.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cpu/isa.h"
#include "runtime/backend.h"

namespace lockstep::runtime {

struct CpuBackendOptions {
  int threads = 0;                       // 0: one per core this process may run on
  cpu::Isa isa = cpu::best_isa();        // kernel level (must be supported)
  std::int64_t max_batch = 256;          // tokens per step; longer forward calls are split
  int slots = 1;                         // sequences whose KV caches it holds (forward_rows)
  // Receives progress lines while the weights are repacked; empty = silent.
  std::function<void(const std::string&)> log;
};

// n_ctx: cache capacity in positions. Throws lockstep::Error when a weight type has no CPU
// kernel or the memory cannot be had.
std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const model::Model> model,
                                          std::int64_t n_ctx, const CpuBackendOptions& options);

}  // namespace lockstep::runtime
