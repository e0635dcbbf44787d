// lockstep simulate [MODEL | --model-preset NAME | --gemm M,K,N] --system lpu-v1 [--functional]
// [--trace FILE.json]: compiles, then executes the program on the cycle-exact simulator, which
// checks every machine rule while it runs. MODEL may instead be a program file written by
// `compile -o step.bin`: it runs alone, on the system it names, a model step fed --token-ids
// (default token 0 at position 0) through the host interface it records, its top logits printed. Timing mode counts cycles; functional mode computes
// the values (for a GEMM it checks them against the host; for a model it decodes tokens).
// On a system of several chips (--system groq-576), the model is compiled as for compile
// (SystemDecode) and --tokens decode steps run on the system simulator in timing mode, each with
// its own Ethernet jitter draw from --seed (lpu/token_latency.h): the per-token latency's P50,
// P99 and max are equal inside one synchronous domain and spread across domains.
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <span>
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "cli/command_registry.h"
#include "cli/lpu_options.h"
#include "cli/model_argument.h"
#include "cli/system_compile.h"
#include "cli/roofline_report.h"
#include "cli/units.h"
#include "compiler/precision.h"
#include "core/error.h"
#include "core/rng.h"
#include "compiler/decode_lowering.h"
#include "compiler/gemm_lowering.h"
#include "lpu/program/host_interface.h"
#include "lpu/program/program_binary.h"
#include "lpu/program/program_roofline.h"
#include "lpu/sim/simulator.h"
#include "lpu/report/system_activity.h"
#include "lpu/sim/system_simulator.h"
#include "lpu/report/system_timeline.h"
#include "lpu/sim/token_latency.h"
#include "lpu/report/chip_chrome_trace.h"
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
  std::string token_ids;    // --token-ids: a program file's input tokens, "1,2,3"
  int stages = 0;           // --stages: a system's pipeline stages (0 = choose)
  int tensor_parallel = 0;  // --tensor-parallel: a system's chips per layer (0 = choose)
};

using Clock = std::chrono::steady_clock;

// Runs once, printing cycles against the prediction and the simulator's own speed.
lpu::SimulationResult run_and_report(lpu::Chip& chip, const lpu::Program& program,
                                     lpu::SimulationMode mode, const std::string& trace_path) {
  std::unique_ptr<lpu::ChipChromeTrace> trace;
  if (!trace_path.empty()) trace = std::make_unique<lpu::ChipChromeTrace>(trace_path);
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
  print_roofline(lpu::program_roofline(program, c, chip.floorplan()), c.clock_hz);
  return r;
}

void simulate_gemm(const SimulateArgs& a, const lpu::SystemConfig& system) {
  const compiler::GemmShape shape = parse_gemm(a.lpu);
  const compiler::GemmProgram gemm(system, shape);
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

// A model on a system of chips: compile, then --tokens timing runs with jitter from --seed.
void simulate_system(const SimulateArgs& a, const lpu::SystemConfig& system,
                     const model::ModelConfig& config) {
  if (a.functional)
    fail("simulate times a system of chips ({}) in timing mode only; drop --functional (the LPU "
         "system backend computes values on it)", system.name);
  if (a.tokens < 1) fail("--tokens must be at least 1, not {}", a.tokens);
  SystemCompileOptions options;
  options.weights = compiler::parse_precision_policy(a.weights);
  options.context = a.context > 0 ? a.context : std::min<std::int64_t>(config.n_ctx_train, 4096);
  options.request = {a.stages, a.tensor_parallel};
  options.threads = a.lpu.threads;
  fmt::print("{} on {} ({} weights, context {} tokens)\n", a.preset.empty() ? a.model : a.preset, system.name,
             compiler::precision_policy_name(options.weights), options.context);
  const compiler::SystemDecode decode = compile_system(config, nullptr, system, options);
  const lpu::SystemProgram& program = decode.program();
  std::vector<std::unique_ptr<lpu::Chip>> owned;
  std::vector<lpu::Chip*> chips;
  for (std::size_t i = 0; i < program.chips.size(); ++i) {
    owned.push_back(std::make_unique<lpu::Chip>(system.chip));
    chips.push_back(owned.back().get());
  }
  lpu::SystemSimulator simulator(system);
  std::set<int> domains;
  for (const auto& chip : program.chips) domains.insert(simulator.topology().domain(chip.chip));
  int crossings = 0;  // links between domains the program maps (at both ends)
  for (const auto& chip : program.chips)
    for (int link : chip.channel_links)
      if (link != lpu::kUnmappedChannel &&
          simulator.transfer_cycles(chip.chip, link) != simulator.transfer_cycles())
        ++crossings;
  crossings /= 2;
  std::mt19937_64 rng(a.seed);
  const lpu::TokenLatencies t =
      lpu::simulate_tokens(simulator, program, chips, static_cast<int>(a.tokens), &rng);
  const double hz = system.chip.clock_hz;
  auto us = [&](std::uint64_t cycles) { return 1e6 * static_cast<double>(cycles) / hz; };
  const std::uint64_t p50 = t.percentile(50), p99 = t.percentile(99), max = t.percentile(100);
  fmt::print("\nsimulated      {} decode tokens in timing mode (every step is the same program), "
             "Ethernet jitter seed {}\n", a.tokens, a.seed);
  fmt::print("chips          {} in {} synchronous domain{} (a domain holds up to {} chips); {} "
             "distinct programs\n", program.chips.size(), domains.size(), domains.size() == 1 ? "" : "s",
             system.topology.sync_domain_chips, decode.distinct_programs());
  fmt::print("system cycles  {} per token without jitter (the compiler's prediction)\n",
             cycles_and_time(program.predicted_cycles, hz));
  if (crossings > 0)
    fmt::print("ethernet       {} pipeline links cross domains: {} ns fixed each (in the schedule) + "
               "log-normal jitter (median {} ns, sigma {}) drawn per link per token\n",
               crossings, system.topology.ethernet_latency_ns, system.topology.ethernet_jitter_median_ns,
               system.topology.ethernet_jitter_sigma);
  fmt::print("token latency  P50 {:.2f} us, P99 {:.2f} us, max {:.2f} us{}\n", us(p50), us(p99),
             us(max), p50 == max ? " (equal: one clock, no jitter)" : " (Ethernet jitter between domains)");
  fmt::print("tokens/s       {:.0f} per user at P50, {:.0f} at the max\n", 1e6 / us(p50), 1e6 / us(max));
  const double busy = t.links_used == 0 ? 0.0
                                        : 100.0 * static_cast<double>(t.link_busy_cycles) /
                                              (static_cast<double>(t.links_used) * static_cast<double>(p50));
  fmt::print("links          {} vector transfers per token over {} link directions, busy {:.2f}% "
             "of the token's time\n", t.transfers, t.links_used, busy);
  fmt::print("wall clock     {:.2f} s to simulate one token ({:.2f} s for {})\n",
             t.wall_seconds / static_cast<double>(a.tokens), t.wall_seconds, a.tokens);
  fmt::print("checked        every machine rule and link rule, every token\n");
  if (!a.trace.empty()) {
    // Chips, units and links on one timeline: each distinct program's activity, once, shifted
    // to every chip's start (lpu/system_activity.h).
    const lpu::SystemActivity activity = lpu::record_system_activity(program, system);
    std::ofstream out(a.trace);
    if (!out) fail("cannot write {}", a.trace);
    lpu::write_system_chrome_trace(activity, program, decode.stages(), out);
    out.close();
    if (!out) fail("writing {} failed (disk full?)", a.trace);
    fmt::print("trace          {}: a process per chip, a thread per unit kind and its link sends "
               "(open in ui.perfetto.dev; `lockstep timeline` draws the same as an SVG)\n", a.trace);
  }
}

void simulate_model(const SimulateArgs& a, const lpu::SystemConfig& system) {
  if (system.topology.chips > 1) {
    if (!a.model.empty() && !a.preset.empty()) fail("give MODEL or --model-preset, not both");
    return simulate_system(a, system, a.preset.empty() ? open_model(a.model, /*quiet=*/true)->config
                                                       : model::load_catalog_shape(a.preset));
  }
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
  const auto weights = compiler::parse_precision_policy(a.weights);
  const compiler::DecodeProgram decode(config, a.functional ? model.get() : nullptr, system,
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
    for (const auto& [buffer, bytes] :
         lpu::fill_inputs(decode.program(), std::span<const std::int32_t>(&token, 1), pos))
      chip.write_buffer(buffer, bytes);
    if (pos == 0) run_and_report(chip, decode.program(), lpu::SimulationMode::Functional, a.trace);
    else chip.run(decode.program(), lpu::SimulationMode::Functional);
    const auto logits =
        lpu::read_logits(decode.program(), [&](const lpu::HostBuffer& b) { return chip.read_buffer(b); });
    token = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    text += model->tokenizer->token_to_piece(token);
  }
  fmt::print("greedy tokens  {}\n", text);
}

// MODEL names a program file (`lockstep compile -o step.bin`): it starts with the binary's magic.
bool is_program_file(const std::string& path) {
  if (path.empty()) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  return in.read(magic, sizeof magic) && std::memcmp(magic, "LOCKPROG", sizeof magic) == 0;
}

std::vector<std::int32_t> parse_token_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    std::int32_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size())
      fail("--token-ids '{}': '{}' is not a token id (write ids like 1,40,50)", text, item);
    ids.push_back(v);
    start = comma + 1;
  }
  return ids;
}

// A program file alone: the system it was compiled for, its memory image, and for a model step
// its host interface (lpu/program/host_interface.h) fed --token-ids from position 0, one run per
// `rows` tokens; the last run's top logits are printed. Other programs run as they are.
void simulate_program_file(const SimulateArgs& a) {
  const lpu::Program program = lpu::load_program(a.model);
  LpuOptions options = a.lpu;
  if (!program.system.empty()) options.system = program.system;
  const lpu::SystemConfig system = load_lpu_system(options);
  if (system.topology.chips > 1)
    fail("{} was compiled for {}, a system of chips; simulate runs a one-chip program file", a.model,
         system.name);
  fmt::print("{} on {} (from {})\n", program.description, system.name, a.model);
  lpu::Chip chip(system.chip);
  chip.load_memory(program);
  if (!lpu::is_model_step(program)) {
    if (!a.token_ids.empty()) fail("{} is not a model step: it takes no --token-ids", a.model);
    run_and_report(chip, program, a.functional ? lpu::SimulationMode::Functional : lpu::SimulationMode::Timing,
                   a.trace);
    return;
  }
  const std::vector<std::int32_t> tokens = a.token_ids.empty() ? std::vector<std::int32_t>(program.host.rows, 0)
                                                                : parse_token_ids(a.token_ids);
  const std::size_t rows = program.host.rows;
  if (tokens.size() % rows != 0)
    fail("{} takes {} tokens per run; --token-ids gives {}, not a multiple", a.model, rows, tokens.size());
  const lpu::DecodedProgram decoded = chip.decode(program);
  std::vector<float> logits;
  for (std::size_t first = 0; first < tokens.size(); first += rows) {
    const auto run = std::span<const std::int32_t>(tokens).subspan(first, rows);
    for (const auto& [buffer, bytes] : lpu::fill_inputs(program, run, static_cast<std::int64_t>(first)))
      chip.write_buffer(buffer, bytes);
    if (first == 0) run_and_report(chip, program, lpu::SimulationMode::Functional, a.trace);
    else chip.run(decoded, program, lpu::SimulationMode::Functional);
  }
  fmt::print("ran            {} token{} at positions 0..{}, {} per run\n", tokens.size(),
             tokens.size() == 1 ? "" : "s", tokens.size() - 1, rows);
  if (program.host.vocab_rows == 0) return;
  logits = lpu::read_logits(program, [&](const lpu::HostBuffer& b) { return chip.read_buffer(b); });
  // The last row's largest logits, by vocabulary id.
  const std::size_t n = static_cast<std::size_t>(program.host.vocab_rows);
  const std::span<const float> last(logits.data() + (rows - 1) * n, n);
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  const std::size_t top = std::min<std::size_t>(5, n);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                    [&](std::size_t x, std::size_t y) { return last[x] > last[y] || (last[x] == last[y] && x < y); });
  std::string text;
  for (std::size_t k = 0; k < top; ++k)
    text += fmt::format("{}id {} = {:.4f}", k ? ", " : "",
                        program.host.shard.vocab_first + static_cast<std::int64_t>(order[k]), last[order[k]]);
  fmt::print("top logits     {} (position {})\n", text, tokens.size() - 1);
}

void run_simulate(const SimulateArgs& a) {
  if (is_program_file(a.model)) {
    if (!a.preset.empty() || !a.lpu.gemm.empty())
      fail("{} is a program file: give it alone, without --model-preset or --gemm", a.model);
    return simulate_program_file(a);
  }
  if (!a.token_ids.empty()) fail("--token-ids feeds a program file (lockstep compile -o step.bin)");
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
  add_weight_precision_option(*cmd, args->weights);
  cmd->add_option("--ctx", args->context, "context length the KV cache holds, tokens");
  cmd->add_flag("--functional", args->functional, "compute values, not only cycles");
  cmd->add_option("--trace", args->trace, "write a Chrome / Perfetto timeline (JSON) of the run");
  cmd->add_option("--tokens", args->tokens,
                  "functional model runs: greedy tokens to decode; on a system: decode steps timed")
      ->capture_default_str();
  cmd->add_option("--token-ids", args->token_ids,
                  "a program file (MODEL = step.bin from compile -o): the token ids to feed from "
                  "position 0, e.g. 1,40,50 (default: token 0)");
  cmd->add_option("--seed", args->seed,
                  "functional GEMM runs: seed of the random inputs; on a system: of the Ethernet jitter")
      ->capture_default_str();
  cmd->add_option("--stages", args->stages, "a system's pipeline stages (default: chosen)");
  cmd->add_option("--tensor-parallel", args->tensor_parallel,
                  "a system's chips per layer: 1, 2, 4 or 8 (default: chosen)");
  cmd->callback([args] { run_simulate(*args); });
}

LOCKSTEP_COMMAND(85, add_simulate);

}  // namespace
}  // namespace lockstep::cli
