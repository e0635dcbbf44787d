// A system of simulated LPU chips as an execution target: the model split over S pipeline
// stages x P tensor-parallel chips (lpu/system_lowering.h), every step run on the functional
// system simulator. cycles_per_step() is the system's cycles for one token.
#pragma once

#include <cstdint>
#include <memory>

#include "compiler/system_lowering.h"
#include "runtime/lpu_backend.h"

namespace lockstep::runtime {

// Compiles the model (fp16 weights) for `system` (a preset of several chips) with a KV cache of
// n_ctx positions; `request` forces S and P (default: the system's chips).
std::unique_ptr<LpuBackend> make_lpu_system_backend(std::shared_ptr<const model::Model> model,
                                                    const lpu::SystemConfig& system, std::int64_t n_ctx,
                                                    const compiler::PartitionRequest& request = {});

}  // namespace lockstep::runtime
