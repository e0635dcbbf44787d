// The simulated LPU system as an execution target (lpu_backend.h): the model compiled once as a
// SystemProgram over S stages x P chips, every decode step run on the functional system
// simulator (all chips in lock-step, the C2C transfers carried and checked), the KV cache in
// the chips' MEM between steps.
#include "runtime/lpu_system_backend.h"

#include <algorithm>

#include "compiler/system_lowering.h"
#include "lpu/program/host_interface.h"
#include "lpu/sim/system_simulator.h"

namespace lockstep::runtime {
namespace {

// The system compiler runs once, in the constructor; every step after that reads only the
// SystemProgram: each chip's host interface and shard fill its inputs, the head chips' give the
// logits (lpu/program/host_interface.h).
class SimulatedSystemBackend final : public LpuBackend {
 public:
  SimulatedSystemBackend(std::shared_ptr<const model::Model> model, const lpu::SystemConfig& system,
                         std::int64_t n_ctx, const compiler::PartitionRequest& request)
      : LpuBackend(std::move(model), system),
        program_(compiler::SystemDecode(model_->config, model_.get(), system,
                                   {compiler::WeightPrecision::Fp16, n_ctx}, request)
                     .program()),
        simulator_(system) {
    for (std::size_t i = 0; i < program_.chips.size(); ++i) {
      chips_.push_back(std::make_unique<lpu::Chip>(system.chip));
      views_.push_back(chips_.back().get());
    }
    lpu::load_system_memory(program_, views_);
  }

  std::int64_t context_length() const override { return program_.programs.front().host.context; }
  std::uint64_t cycles_per_step() const override { return program_.predicted_cycles; }

 private:
  void step(std::int32_t token, std::int64_t pos) override {
    for (std::size_t c = 0; c < views_.size(); ++c)
      for (const auto& [buffer, bytes] :
           lpu::fill_chip_inputs(program_, c, std::span<const std::int32_t>(&token, 1), pos))
        views_[c]->write_buffer(buffer, bytes);
    simulator_.run(program_, lpu::SimulationMode::Functional, views_);
  }
  std::vector<float> read_logits() const override {
    return lpu::read_system_logits(
        program_, [&](std::size_t c, const lpu::HostBuffer& b) { return views_[c]->read_buffer(b); });
  }

  lpu::SystemProgram program_;
  lpu::SystemSimulator simulator_;
  std::vector<std::unique_ptr<lpu::Chip>> chips_;
  std::vector<lpu::Chip*> views_;
};

}  // namespace

std::unique_ptr<LpuBackend> make_lpu_system_backend(std::shared_ptr<const model::Model> model,
                                                    const lpu::SystemConfig& system, std::int64_t n_ctx,
                                                    const compiler::PartitionRequest& request) {
  return std::make_unique<SimulatedSystemBackend>(std::move(model), system, n_ctx, request);
}

}  // namespace lockstep::runtime
