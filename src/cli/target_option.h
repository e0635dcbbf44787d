// --target: which execution target runs the model. `cpu` (the default) is the fast CPU backend
// (static kernel plan, pinned threads); `ref` is the FP32 reference pass (the oracle); `lpu-sim` compiles the model for a simulated LPU chip (--system) and runs every token
// on the cycle-exact functional simulator.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/backend.h"
#include "runtime/lpu_backend.h"

namespace lockstep::cli {

struct TargetOptions {
  std::string target = "cpu";
  int threads = 0;          // cpu: worker threads, 0 = one per core
  std::string isa = "native";  // cpu: kernel level (portable, avx2, avx512, native)
  int slots = 1;            // cpu: sequences (KV caches) held at once; other targets hold one
  std::string system = "lpu-v1";
  std::vector<std::string> overrides;
};

void add_target_options(CLI::App& command, TargetOptions& options);

// The backend for the chosen target. When it is the simulated LPU, *lpu points at it (else null).
std::unique_ptr<runtime::Backend> make_backend(const TargetOptions& options,
                                               std::shared_ptr<const model::Model> model,
                                               std::int64_t n_ctx, runtime::LpuBackend** lpu);

// "simulated on lpu-v1: 253.2 us per token (227,883 cycles at 900 MHz) = 3,950 tokens/s per user"
std::string describe_simulated(const runtime::LpuBackend& lpu);

}  // namespace lockstep::cli
