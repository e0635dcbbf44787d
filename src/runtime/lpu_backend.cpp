#include "runtime/lpu_backend.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "compiler/decode_lowering.h"
#include "lpu/program/host_interface.h"
#include "lpu/sim/simulator.h"

namespace lockstep::runtime {
namespace {

// The compiler runs once, in the constructor; every step after that reads only the Program:
// its host interface fills the inputs and reads the logits (lpu/program/host_interface.h).
lpu::Program compile_step(const model::Model& model, const lpu::SystemConfig& system, std::int64_t n_ctx) {
  compiler::DecodeProgram decode(model.config, &model, system, {compiler::WeightPrecision::Fp16, n_ctx});
  return decode.program();
}

class SimulatedChipBackend final : public LpuBackend {
 public:
  SimulatedChipBackend(std::shared_ptr<const model::Model> model, const lpu::SystemConfig& system,
                       std::int64_t n_ctx)
      : LpuBackend(std::move(model), system),
        program_(compile_step(*model_, system, n_ctx)),
        chip_(system.chip),
        decoded_(chip_.decode(program_)) {
    chip_.load_memory(program_);
  }

  std::int64_t context_length() const override { return program_.host.context; }
  std::uint64_t cycles_per_step() const override { return program_.predicted_cycles; }

 private:
  void step(std::int32_t token, std::int64_t pos) override {
    for (const auto& [buffer, bytes] : lpu::fill_inputs(program_, std::span<const std::int32_t>(&token, 1), pos))
      chip_.write_buffer(buffer, bytes);
    chip_.run(decoded_, program_, lpu::SimulationMode::Functional);
  }
  std::vector<float> read_logits() const override {
    return lpu::read_logits(program_, [&](const lpu::HostBuffer& b) { return chip_.read_buffer(b); });
  }

  lpu::Program program_;
  lpu::Chip chip_;
  lpu::DecodedProgram decoded_;
};

}  // namespace

LpuBackend::LpuBackend(std::shared_ptr<const model::Model> model, const lpu::SystemConfig& system)
    : model_(std::move(model)), system_(system) {}

void LpuBackend::forward(std::span<const std::int32_t> tokens, std::int64_t pos, std::span<float> logits,
                         bool all_logits) {
  const std::size_t n_vocab = static_cast<std::size_t>(model_->config.n_vocab);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    step(tokens[i], pos + static_cast<std::int64_t>(i));
    ++steps_;
    if (!all_logits && i + 1 < tokens.size()) continue;
    const std::vector<float> out = read_logits();
    std::copy(out.begin(), out.end(), logits.data() + (all_logits ? i * n_vocab : 0));
  }
}

std::unique_ptr<LpuBackend> make_lpu_backend(std::shared_ptr<const model::Model> model,
                                             const lpu::SystemConfig& system, std::int64_t n_ctx) {
  return std::make_unique<SimulatedChipBackend>(std::move(model), system, n_ctx);
}

}  // namespace lockstep::runtime
