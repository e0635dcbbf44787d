// The simulated LPU as an execution target: the model's decode step compiled once for the
// chip, then run on the functional simulator for every token (prompt tokens one step each, as
// the chip would stream them). The KV cache lives in the simulated chip's MEM between steps.
// Besides the logits it reports the simulated time per step, which is the same for every
// token: the compiled cycle count at the chip's clock.
#pragma once

#include <cstdint>
#include <memory>

#include "lpu/system_config.h"
#include "runtime/backend.h"

namespace lockstep::runtime {

class LpuBackend : public Backend {
 public:
  virtual std::uint64_t cycles_per_step() const = 0;       // cycles @ core clock
  virtual double seconds_per_step() const = 0;              // simulated, s
  virtual std::uint64_t steps_run() const = 0;              // decode steps simulated so far
  virtual const lpu::SystemConfig& system() const = 0;
};

// Compiles the model (fp16 weights) for `system` with a KV cache of n_ctx positions. Throws
// lockstep::Error when the model does not fit one chip.
std::unique_ptr<LpuBackend> make_lpu_backend(std::shared_ptr<const model::Model> model,
                                             const lpu::SystemConfig& system, std::int64_t n_ctx);

}  // namespace lockstep::runtime
