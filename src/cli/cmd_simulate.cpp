// lockstep simulate [MODEL | --model-preset NAME | --gemm M,K,N] --system lpu-v1 [--functional]
// [--trace FILE.json]: compiles, then executes the program on the cycle-exact simulator, which
// checks every machine rule while it runs. Timing mode counts cycles; functional mode computes
// the values (for a GEMM it checks them against the host; for a model it decodes tokens).
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "cli/command_registry.h"
#include "cli/lpu_options.h"
#include "cli/model_argument.h"
#include "cli/units.h"
#include "compiler/precision.h"
#include "core/error.h"
#include "core/rng.h"
#include "lpu/decode_lowering.h"
#include "lpu/gemm_lowering.h"
#include "lpu/simulator.h"
#include "lpu/trace.h"
#include "model/catalog.h"
#include "numerics/half.h"

namespace lockstep::cli {
namespace {

struct SimulateArgs {
  std::string model;
  std::string preset;
  LpuOptions lpu;
  std::string weights = "fp16";
  std::int64_t context = 0;
  bool functional = false;
  std::string trace;
  std::int64_t tokens = 8;
  std::uint64_t seed = 1;
};

using Clock = std::chrono::steady_clock;

// Runs once, printing cycles against the prediction and the simulator's own speed.
lpu::SimulationResult run_and_report(lpu::Chip& chip, const lpu::Program& program,
                                     lpu::SimulationMode mode, const std::string& trace_path) {
  std::unique_ptr<lpu::ChromeTraceWriter> trace;
  if (!trace_path.empty()) trace = std::make_unique<lpu::ChromeTraceWriter>(trace_path);
  const lpu::DecodedProgram decoded = chip.decode(program);  // static checks, not timed
  const auto start = Clock::now();
  const lpu::SimulationResult r = chip.run(decoded, program, mode, trace.get());
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto& c = chip.config();
  fmt::print("simulated      {} ({} mode), every machine rule checked\n",
             cycles_and_time(r.cycles, c.clock_hz),
             mode == lpu::SimulationMode::Functional ? "functional" : "timing");
  fmt::print("prediction     {} cycles: {}\n", program.predicted_cycles,
             r.cycles == program.predicted_cycles ? "equal" : "DIFFERENT");
  fmt::print("executed       {} instructions, {} iterations in {:.3f} s = {} simulated/s\n",
             r.instructions, r.iterations, seconds, si(r.iterations / std::max(seconds, 1e-9), "iterations"));
  if (trace) fmt::print("trace          {} ({} events; open in ui.perfetto.dev)\n", trace_path,
                        trace->events_written());
  return r;
}

void simulate_gemm(const SimulateArgs& a, const lpu::SystemConfig& system) {
  const lpu::GemmShape shape = parse_gemm(a.lpu);
  const lpu::GemmProgram gemm(system, shape);
  fmt::print("{} on {}\n", gemm.program().description, system.name);
  lpu::Chip chip(system.chip);
  if (!a.functional) {
    run_and_report(chip, gemm.program(), lpu::SimulationMode::Timing, a.trace);
    return;
  }
  const bool int8 = shape.type == lpu::ElementType::I8;
  const int eb = int8 ? 1 : 2;
  std::vector<std::uint8_t> A(shape.m * shape.k * eb), W(shape.n * shape.k * eb);
  Rng rng(a.seed);
  auto fill = [&](std::vector<std::uint8_t>& bytes) {
    for (std::size_t i = 0; i < bytes.size(); i += eb) {
      if (int8) bytes[i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(rng.next() % 255 - 127));
      else {
        const std::uint16_t h = numerics::fp32_to_fp16(static_cast<float>((rng.next() % 2001) / 1000.0 - 1.0));
        std::memcpy(&bytes[i], &h, 2);
      }
    }
  };
  fill(A);
  fill(W);
  lpu::Program inputs;
  inputs.memory = gemm.pack_inputs(A, W);
  chip.load_memory(inputs);
  run_and_report(chip, gemm.program(), lpu::SimulationMode::Functional, a.trace);
  const auto C = gemm.unpack_output([&](const lpu::HostBuffer& b) { return chip.read_buffer(b); });
  // The host's product: exact in int64 for int8; in double for fp16.
  double worst = 0;
  for (std::int64_t i = 0; i < shape.m; ++i)
    for (std::int64_t j = 0; j < shape.n; ++j) {
      double want = 0;
      for (std::int64_t k = 0; k < shape.k; ++k) {
        if (int8) want += double(std::int8_t(A[i * shape.k + k])) * double(std::int8_t(W[j * shape.k + k]));
        else {
          std::uint16_t x, y;
          std::memcpy(&x, &A[(i * shape.k + k) * 2], 2);
          std::memcpy(&y, &W[(j * shape.k + k) * 2], 2);
          want += double(numerics::fp16_to_fp32(x)) * numerics::fp16_to_fp32(y);
        }
      }
      double got;
      if (int8) {
        std::int32_t v;
        std::memcpy(&v, &C[(i * shape.n + j) * 4], 4);
        got = v;
      } else {
        float v;
        std::memcpy(&v, &C[(i * shape.n + j) * 4], 4);
        got = v;
      }
      worst = std::max(worst, std::fabs(got - want));
    }
  if (int8) fmt::print("checked        against the host's int64 product: {}\n",
                       worst == 0 ? "exact" : fmt::format("WRONG (max error {})", worst));
  else fmt::print("checked        against the host's float64 product: max abs error {:.3g}\n", worst);
  if (int8 && worst != 0) fail("the simulated GEMM differs from the host's product");
}

void simulate_model(const SimulateArgs& a, const lpu::SystemConfig& system) {
  std::shared_ptr<const model::Model> model;
  model::ModelConfig config;
  if (!a.preset.empty()) {
    if (!a.model.empty()) fail("give MODEL or --model-preset, not both");
    if (a.functional) fail("--functional needs weights: give a MODEL file, not --model-preset");
    config = model::load_catalog_shape(a.preset);
  } else {
    model = open_model(a.model, /*quiet=*/true);
    config = model->config;
  }
  const auto weights = compiler::parse_weight_precision(a.weights);
  const lpu::DecodeProgram decode(config, a.functional ? model.get() : nullptr, system,
                                  {weights, a.context});
  fmt::print("{} on {}\n", decode.program().description, system.name);
  lpu::Chip chip(system.chip);
  if (!a.functional) {
    run_and_report(chip, decode.program(), lpu::SimulationMode::Timing, a.trace);
    return;
  }
  chip.load_memory(decode.program());
  std::int32_t token = model->tokenizer->vocabulary().bos_id.value_or(0);
  std::string text;
  for (std::int64_t pos = 0; pos < a.tokens && pos < decode.context(); ++pos) {
    for (const auto& [buffer, bytes] : decode.inputs(token, pos)) chip.write_buffer(buffer, bytes);
    if (pos == 0) run_and_report(chip, decode.program(), lpu::SimulationMode::Functional, a.trace);
    else chip.run(decode.program(), lpu::SimulationMode::Functional);
    const auto logits = decode.logits([&](const lpu::HostBuffer& b) { return chip.read_buffer(b); });
    token = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    text += model->tokenizer->token_to_piece(token);
  }
  fmt::print("greedy tokens  {}\n", text);
}

void run_simulate(const SimulateArgs& a) {
  const lpu::SystemConfig system = load_lpu_system(a.lpu);
  if (!a.lpu.gemm.empty()) {
    if (!a.model.empty() || !a.preset.empty()) fail("give --gemm or a model, not both");
    simulate_gemm(a, system);
  } else {
    simulate_model(a, system);
  }
}

void add_simulate(CLI::App& app) {
  auto args = std::make_shared<SimulateArgs>();
  auto* cmd = app.add_subcommand(
      "simulate", "compile, then run the program on the cycle-exact LPU simulator");
  add_model_argument(*cmd, args->model);
  cmd->add_option("--model-preset", args->preset, "a catalog shape instead of a file (timing only)");
  add_lpu_options(*cmd, args->lpu);
  cmd->add_option("--weights", args->weights, "matmul weight precision: int8 or fp16")
      ->capture_default_str();
  cmd->add_option("--ctx", args->context, "context length the KV cache holds, tokens");
  cmd->add_flag("--functional", args->functional, "compute values, not only cycles");
  cmd->add_option("--trace", args->trace, "write a Chrome / Perfetto timeline (JSON) of the run");
  cmd->add_option("--tokens", args->tokens, "functional model runs: greedy tokens to decode")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "functional GEMM runs: seed of the random inputs")
      ->capture_default_str();
  cmd->callback([args] { run_simulate(*args); });
}

LOCKSTEP_COMMAND(85, add_simulate);

}  // namespace
}  // namespace lockstep::cli
