// The simulated LPU as an execution target: the model's decode step compiled once for the
// chip, then run on the functional simulator for every token (prompt tokens one step each, as
// the chip would stream them). The KV cache lives in the simulated chip's MEM between steps.
// Besides the logits it reports the simulated time per step, which is the same for every
// token: the compiled cycle count at the chip's clock.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lpu/arch/system_config.h"
#include "runtime/backend.h"

namespace lockstep::runtime {

// What every simulated-LPU target shares: one decode step per token (prompt tokens too), the
// logits read after the steps that need them, the simulated time per step. A target (one chip,
// or a system of chips) says how to run a step and read its logits.
class LpuBackend : public Backend {
 public:
  LpuBackend(std::shared_ptr<const model::Model> model, const lpu::SystemConfig& system);

  const model::Model& model() const override { return *model_; }
  void forward(std::span<const std::int32_t> tokens, std::int64_t pos, std::span<float> logits,
               bool all_logits) override;

  virtual std::uint64_t cycles_per_step() const = 0;  // cycles @ core clock
  double seconds_per_step() const { return cycles_per_step() / system_.chip.clock_hz; }  // simulated, s
  std::uint64_t steps_run() const { return steps_; }  // decode steps simulated so far
  const lpu::SystemConfig& system() const { return system_; }

 protected:
  // One decode step of `token` at position `pos`; then the logits [n_vocab] of the last step.
  virtual void step(std::int32_t token, std::int64_t pos) = 0;
  virtual std::vector<float> read_logits() const = 0;

  std::shared_ptr<const model::Model> model_;
  lpu::SystemConfig system_;

 private:
  std::uint64_t steps_ = 0;
};

// Compiles the model (fp16 weights) for `system` with a KV cache of n_ctx positions. Throws
// lockstep::Error when the model does not fit one chip.
std::unique_ptr<LpuBackend> make_lpu_backend(std::shared_ptr<const model::Model> model,
                                             const lpu::SystemConfig& system, std::int64_t n_ctx);

}  // namespace lockstep::runtime
