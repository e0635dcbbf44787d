// lockstep compile [MODEL | --model-preset NAME | --gemm M,K,N] --system lpu-v1: lowers work
// onto the simulated LPU and says what it costs: SRAM placement, chips needed, instructions per
// unit, predicted cycles and microseconds, utilisation of MXM, VXM, MEM and streams.
#include <fmt/core.h>

#include <chrono>
#include <fstream>
#include <optional>

#include "cli/command_registry.h"
#include "cli/lpu_options.h"
#include "cli/model_argument.h"
#include "cli/roofline_report.h"
#include "cli/system_compile.h"
#include "cli/units.h"
#include "compiler/precision.h"
#include "graph/step_graph.h"
#include "core/error.h"
#include "compiler/decode_lowering.h"
#include "lpu/arch/floorplan.h"
#include "compiler/all_reduce_lowering.h"
#include "compiler/gemm_lowering.h"
#include "compiler/multichip_gemm.h"
#include "compiler/model_footprint.h"
#include "compiler/partition_planner.h"
#include "lpu/program/program_asm.h"
#include "lpu/program/program_binary.h"
#include "lpu/program/program_roofline.h"
#include "lpu/program/program_stats.h"
#include "lpu/sim/system_simulator.h"
#include "model/catalog.h"

namespace lockstep::cli {
namespace {

struct CompileArgs {
  std::string model;
  std::string preset;
  LpuOptions lpu;
  std::string weights = "int8";
  std::int64_t context = 0;
  std::string output;
  std::string emit = "summary";
  std::int64_t prefill = 16;
  std::string dump_after;
  int stages = 0;           // --stages: force pipeline stages (0 = choose)
  int tensor_parallel = 0;  // --tensor-parallel: force the split of each layer (0 = choose)
  std::int64_t prompt = 550;  // --prompt: prompt tokens for a system's time to first token
  std::vector<std::int64_t> batches;  // --batch: sequences per group for the batch x pipeline table
  std::vector<std::int64_t> all_reduce;  // --all-reduce: message sizes, bytes
};

// --dump-after PASS: the compiler's structure after that pass (each pass's verifier has run).
// graph: the decode step's graph, what the lowering takes op by op (one function per op kind).
void dump_graph(const model::ModelConfig& config) {
  const graph::Graph g = graph::build_step_graph(config, {}, graph::WeightTypes{});
  auto shape = [&](int t) {
    std::string s;
    for (std::int64_t d : g.tensors[static_cast<std::size_t>(t)].shape) s += fmt::format("{}{}", s.empty() ? "" : "x", d);
    return fmt::format("{}[{}]", g.tensors[static_cast<std::size_t>(t)].name, s);
  };
  fmt::print("after graph (verified: every input produced before use, shapes agree): {} ops, {} tensors\n",
             g.ops.size(), g.tensors.size());
  for (const auto& op : g.ops) {
    std::string in;
    for (int t : op.inputs) in += (in.empty() ? "" : ", ") + shape(t);
    fmt::print("  {:<24} {:<10} {} -> {}\n", op.name, graph::op_kind_name(op.kind), in, shape(op.outputs[0]));
  }
}

// precision: the TruePoint table and the precision the pass gave every stored tensor of layer 0
// and outside the layers (every layer is alike).
void dump_precision(const model::ModelConfig& config, const compiler::PrecisionPolicy& weights) {
  graph::Graph g = graph::build_step_graph(config, {}, graph::WeightTypes{});
  compiler::assign_precision(g, weights);
  fmt::print("after precision ({} weights): the TruePoint table\n", compiler::precision_policy_name(weights));
  for (const auto& rule : compiler::precision_table(weights.weights))
    fmt::print("  {:<38} stored {:<48} computed {}\n", rule.name, rule.storage, rule.compute);
  fmt::print("\nper tensor (layer 0 shown; every layer is alike; activations fp32):\n");
  for (const graph::TensorInfo& t : g.tensors) {
    if (t.role != graph::TensorRole::Weight && t.role != graph::TensorRole::KvCache) continue;
    if ((t.name.starts_with("blk.") || t.name.starts_with("cache.")) && !t.name.starts_with("blk.0.") &&
        !t.name.starts_with("cache.0."))
      continue;
    const bool tied = t.name == "token_embd.weight" && config.tied_embeddings;
    fmt::print("  {:<34} {}{}\n", t.name, graph::precision_name(t.precision),
               tied ? " (the tied LM head's; the embedding gathers its own fp16 rows)" : "");
  }
}

void dump_placement(const std::vector<compiler::Allocation>& placement, const lpu::ChipConfig& chip) {
  fmt::print("after placement (verified: inside the slices, no overlaps): {} tensors\n", placement.size());
  fmt::print("  {:<34} {:>8} {:>10}  slices\n", "tensor", "address", "vectors");
  for (const auto& a : placement) {
    std::string slices;
    for (int s : a.place.slices) slices += fmt::format("{}{}", slices.empty() ? "" : ",", s);
    fmt::print("  {:<34} {:>8} {:>10}  {}\n", a.name, a.place.addr, a.place.vectors, slices);
  }
}

bool dump(const CompileArgs& a, const std::string& pass) { return a.dump_after == pass; }

void print_units(const lpu::Program& program, const lpu::SystemConfig& system) {
  const lpu::Floorplan fp(system.chip);
  const lpu::ProgramStats s = lpu::program_stats(program, fp);
  fmt::print("program        {} instructions ({} with repeats) in {} queues\n",
             program.instruction_count(), program.iteration_count(), fp.queue_count());
  fmt::print("per unit       MEM {}  VXM {}  SXM {}  MXM load {}  MXM compute {}  MXM emit {}"
             " (iterations)\n",
             s.iterations[0], s.iterations[1], s.iterations[2], s.iterations[3], s.iterations[4],
             s.iterations[5]);
  fmt::print("time           {}\n", cycles_and_time(s.cycles, system.chip.clock_hz));
  fmt::print("utilisation    MXM {:.1f}%  VXM {:.1f}%  MEM bank ports {:.1f}%  streams {:.1f}%\n",
             100 * s.mxm_utilisation(system.chip, fp), 100 * s.vxm_utilisation(system.chip),
             100 * s.mem_utilisation(system.chip, fp),
             100 * s.stream_utilisation(system.chip, fp));
  print_roofline(lpu::program_roofline(program, system.chip, fp), system.chip.clock_hz);
}

void write_output(const CompileArgs& a, const lpu::Program& program,
                  const lpu::SystemConfig& system) {
  if (a.emit == "asm" && a.output.empty()) {
    fmt::print("{}", lpu::write_program_asm(program, lpu::Floorplan(system.chip)));
    return;
  }
  if (a.output.empty()) return;
  const bool as_asm = a.emit == "asm" || a.output.ends_with(".asm") || a.output.ends_with(".s");
  if (as_asm) {
    std::ofstream out(a.output, std::ios::binary);
    out << lpu::write_program_asm(program, lpu::Floorplan(system.chip));
    if (!out) fail("cannot write {}", a.output);
  } else {
    lpu::save_program(program, a.output);
  }
  std::fprintf(stderr, "wrote %s (%s)\n", a.output.c_str(), as_asm ? "assembly" : "binary");
}

// --gemm on a system of chips: the GEMM split over a node's chips both ways (multichip_gemm.h),
// each simulated (every machine and link rule checked), against the chips' combined peak.
void compile_system_gemm(const CompileArgs& a, const lpu::SystemConfig& system, const compiler::GemmShape& shape) {
  const int chips = a.tensor_parallel > 0 ? a.tensor_parallel : system.topology.chips_per_node;
  const bool int8 = shape.type == lpu::ElementType::I8;
  const double peak = chips * (int8 ? system.chip.published_peak_int8_ops : system.chip.published_peak_fp16_flops);
  fmt::print("gemm {}x{}x{} {} over {} chips of a {} node (combined published peak {})\n", shape.m, shape.k, shape.n,
             int8 ? "int8" : "fp16", chips, system.name, si(peak, int8 ? "OP/s" : "FLOP/s"));
  lpu::SystemSimulator simulator(system);
  const lpu::Floorplan fp(system.chip);
  const auto occupancy = static_cast<std::uint32_t>(simulator.occupancy_cycles());
  std::uint64_t best = 0;
  const char* best_name = "";
  for (const compiler::GemmSplit split : {compiler::GemmSplit::Columns, compiler::GemmSplit::Inner}) {
    std::optional<compiler::SystemGemm> gemm;
    try {
      gemm.emplace(system, shape, chips, split);
    } catch (const Error& e) {
      fmt::print("\nsplit by {}: {}\n", compiler::gemm_split_name(split), e.what());
      continue;
    }
    std::vector<std::unique_ptr<lpu::Chip>> owned;
    std::vector<lpu::Chip*> run_on;
    for (std::size_t i = 0; i < gemm->program().chips.size(); ++i) {
      owned.push_back(std::make_unique<lpu::Chip>(system.chip));
      run_on.push_back(owned.back().get());
    }
    const lpu::SystemResult r = simulator.run(gemm->program(), lpu::SimulationMode::Timing, run_on);
    const double seconds = r.cycles / system.chip.clock_hz;
    const double ops = 2.0 * gemm->macs() / seconds;
    const compiler::GemmShape& cs = gemm->chip_shape();
    fmt::print("\nsplit by {}    each chip {}x{}x{}{}; simulated, every rule checked\n", compiler::gemm_split_name(split),
               cs.m, cs.k, cs.n, split == compiler::GemmSplit::Inner ? " + an all-reduce of C (fp32)" : " (C stays split)");
    fmt::print("time           {}\n", cycles_and_time(r.cycles, system.chip.clock_hz));
    fmt::print("throughput     {} = {:.1f}% of the {} chips' peak; {} link transfers\n", si(ops, int8 ? "OP/s" : "FLOP/s"),
               100 * ops / peak, chips, r.transfers);
    print_roofline(lpu::program_roofline(gemm->program().programs[0], system.chip, fp, occupancy), system.chip.clock_hz,
                   "chip roofline");
    if (best == 0 || r.cycles < best) {
      best = r.cycles;
      best_name = compiler::gemm_split_name(split);
    }
  }
  if (best == 0) fail("the GEMM splits neither way over {} chips", chips);
  fmt::print("\nfaster         split by {}: {}\n", best_name, cycles_and_time(best, system.chip.clock_hz));
}

void compile_gemm(const CompileArgs& a, const lpu::SystemConfig& system) {
  const compiler::GemmShape shape = parse_gemm(a.lpu);
  if (system.topology.chips > 1) {
    if (!a.output.empty() || a.emit != "summary" || !a.dump_after.empty())
      fail("-o, --emit and --dump-after are for one chip's GEMM; {} is a system of chips", system.name);
    return compile_system_gemm(a, system, shape);
  }
  const compiler::GemmProgram gemm(system, shape);
  const lpu::Program& program = gemm.program();
  if (dump(a, "placement")) return dump_placement(gemm.placement(), system.chip);
  if (dump(a, "schedule")) {
    fmt::print("{}", lpu::write_program_asm(program, lpu::Floorplan(system.chip), {false}));
    return;
  }
  const bool int8 = shape.type == lpu::ElementType::I8;
  if (a.emit != "asm" || !a.output.empty()) {
    fmt::print("{} on {} ({:.0f} MHz)\n", program.description, system.name,
               system.chip.clock_hz / 1e6);
    print_units(program, system);
    const double seconds = program.predicted_cycles / system.chip.clock_hz;
    const double ops = 2.0 * gemm.macs() / seconds;
    const double peak = int8 ? system.chip.published_peak_int8_ops : system.chip.published_peak_fp16_flops;
    fmt::print("throughput     {}", si(ops, int8 ? "OP/s" : "FLOP/s"));
    if (peak > 0) fmt::print(" = {:.1f}% of the published peak {}", 100 * ops / peak,
                             si(peak, int8 ? "OP/s" : "FLOP/s"));
    fmt::print("\n");
  }
  write_output(a, program, system);
}

// --all-reduce: one butterfly all-reduce per size over a node's chips, compiled, simulated (every
// machine and link rule checked) and set against the links' limits.
void compile_all_reduce(const CompileArgs& a, const lpu::SystemConfig& system) {
  const int ranks = a.tensor_parallel > 0 ? a.tensor_parallel : system.topology.chips_per_node;
  lpu::SystemSimulator simulator(system);
  const double hz = system.chip.clock_hz;
  const double link_bw = system.chip.vector_bytes / double(simulator.occupancy_cycles()) * hz;  // B/s, one direction
  int steps = 0;
  while ((1 << steps) < ranks) ++steps;
  fmt::print("butterfly all-reduce of fp32 vectors over {} chips of a {} node ({} steps, one link each; a link "
             "direction carries {}/s: {} B per {} cycles, {} cycles departure to arrival)\n",
             ranks, system.name, steps, si(link_bw, "B"), system.chip.vector_bytes, simulator.occupancy_cycles(),
             simulator.transfer_cycles());
  fmt::print("  {:>10} {:>9} {:>12} {:>10} {:>12} {:>12} {:>10} {:>14} {:>14}\n", "message", "vectors", "cycles", "time",
             "algbw", "busbw", "link use", "butterfly bound", "machine bound");
  for (const std::int64_t bytes : a.all_reduce) {
    const compiler::AllReduceProgram ar(system, bytes, ranks);
    std::vector<std::unique_ptr<lpu::Chip>> owned;
    std::vector<lpu::Chip*> chips;
    for (std::size_t i = 0; i < ar.program().chips.size(); ++i) {
      owned.push_back(std::make_unique<lpu::Chip>(system.chip));
      chips.push_back(owned.back().get());
    }
    const lpu::SystemResult r = simulator.run(ar.program(), lpu::SimulationMode::Timing, chips);
    const double seconds = r.cycles / hz;
    const double algbw = ar.bytes() / seconds;
    const double busbw = algbw * 2.0 * (ranks - 1) / ranks;  // NCCL's convention
    // Butterfly: each step's link carries the whole message, the steps' links at once; the
    // machine: reduce-scatter + all-gather over the node's ranks - 1 links, 2 (P - 1) / P of the
    // message per chip spread over them.
    const std::uint64_t butterfly = ar.vectors() * simulator.occupancy_cycles() + steps * simulator.transfer_cycles();
    const std::uint64_t machine =
        (2 * ar.vectors() + ranks - 1) / ranks * simulator.occupancy_cycles() + 2 * simulator.transfer_cycles();
    fmt::print("  {:>10} {:>9} {:>12} {:>10} {:>12} {:>12} {:>9.1f}% {:>8} {:>4.0f}% {:>8} {:>4.0f}%\n",
               si(double(ar.bytes()), "B"), ar.vectors(), r.cycles, fmt::format("{:.2f} us", 1e6 * seconds),
               si(algbw, "B/s"), si(busbw, "B/s"), 100 * algbw / link_bw, butterfly, 100.0 * butterfly / r.cycles,
               machine, 100.0 * machine / r.cycles);
  }
  fmt::print("algbw = message / time; busbw = algbw x 2(P-1)/P (NCCL's); link use = algbw over one link "
             "direction's bandwidth (the butterfly sends the whole message over each of its {} links); bounds "
             "in cycles and as a share of the run\n",
             steps);
}

// Consecutive stages that hold the same are printed as one line.
void print_partition(const compiler::PartitionPlan& plan, const lpu::SystemConfig& system) {
  fmt::print("\npartition      {} stages x {}-way tensor parallel = {} chips of {} (the model does "
             "not fit one chip)\n",
             plan.stages, plan.tensor_parallel, plan.chips, system.name);
  fmt::print("  {:<10} {:<40} {:>10} {:>10} {:>7}\n", "stages", "holds (units)", "weights", "per chip",
             "of SRAM");
  const int E = plan.embedding_parts, per_layer = 1 + plan.ffn_parts;
  auto layer = [&](int unit) { return std::max(unit - E, 0) / per_layer; };
  const auto& st = plan.stage_plans;
  for (std::size_t i = 0; i < st.size();) {
    std::size_t j = i + 1;
    auto units = [](const compiler::StagePlan& x) { return x.end_unit - x.first_unit; };
    auto same = [&](const compiler::StagePlan& x, const compiler::StagePlan& y) {
      return units(x) == units(y) && !x.embedding && !y.embedding && !x.head && !y.head &&
             x.total_bytes == y.total_bytes;
    };
    while (j < st.size() && same(st[i], st[j])) ++j;
    const auto& s = st[i];
    std::string holds = fmt::format("{} unit{}", units(s), units(s) == 1 ? "" : "s");
    if (j - i == 1) {
      holds += fmt::format(" ({}..{}", s.first_unit, s.end_unit - 1);
      if (s.end_unit > E)
        holds += layer(s.first_unit) == layer(s.end_unit - 1)
                     ? fmt::format(": layer {})", layer(s.first_unit))
                     : fmt::format(": layers {}-{})", layer(s.first_unit), layer(s.end_unit - 1));
      else
        holds += ")";
    }
    if (s.embedding) holds += " + embedding";
    if (s.head) holds += " + LM head";
    if (j - i > 1) holds += " each";
    const std::string range = j - i == 1 ? fmt::format("{}", i) : fmt::format("{}-{}", i, j - 1);
    fmt::print("  {:<10} {:<40} {:>10} {:>10} {:>6.1f}%\n", range, holds, si(double(s.weight_bytes), "B"),
               si(double(s.total_bytes), "B"), 100 * plan.fraction_of_chip(s));
    i = j;
  }
  fmt::print("why            {}\n", plan.reason);
}

void compile_model(const CompileArgs& a, const lpu::SystemConfig& system) {
  model::ModelConfig config;
  std::string label;
  std::shared_ptr<const model::Model> model;  // weights, when compiled from a file
  if (!a.preset.empty()) {
    if (!a.model.empty()) fail("give MODEL or --model-preset, not both");
    config = model::load_catalog_shape(a.preset);
    label = a.preset + " (catalog shape, timing only)";
  } else {
    model = open_model(a.model, /*quiet=*/true);
    config = model->config;
    label = model->source;
  }
  const auto weights = compiler::parse_precision_policy(a.weights);
  if (dump(a, "graph")) return dump_graph(config);
  if (dump(a, "precision")) return dump_precision(config, weights);
  const std::int64_t ctx = a.context > 0 ? a.context : std::min<std::int64_t>(config.n_ctx_train, 4096);
  const compiler::ModelFootprint f = compiler::model_footprint(config, system.chip, weights, ctx);
  fmt::print("{} on {} ({} weights, context {} tokens)\n", label, system.name,
             compiler::precision_policy_name(weights), ctx);
  fmt::print("\nSRAM placement (whole 320-byte vectors)\n");
  for (const auto& line : f.lines) fmt::print("  {:<34} {:>12}\n", line.what, si(double(line.bytes), "B"));
  fmt::print("  {:<34} {:>12}\n", "total", si(double(f.total_bytes), "B"));
  fmt::print("  {:<34} {:>12}\n", fmt::format("one {} chip", system.name), si(double(f.chip_bytes), "B"));
  if (system.topology.chips > 1) {
    if (dump(a, "placement") || dump(a, "schedule") || !a.output.empty() || a.emit != "summary")
      fail("--dump-after, -o and --emit are for one chip's program; {} is a system of {} chips",
           system.name, system.topology.chips);
    SystemCompileOptions options;
    options.weights = weights;
    options.context = ctx;
    options.prompt = a.prompt;
    options.request = {a.stages, a.tensor_parallel};
    options.batches = a.batches;
    options.threads = a.lpu.threads;
    compile_system(config, model.get(), system, options);
    return;
  }
  const compiler::PartitionPlan plan = compiler::plan_partition(config, system, weights, ctx, {a.stages, a.tensor_parallel});
  if (plan.chips > 1) {
    print_partition(plan, system);
    fmt::print("\nto schedule it, name a system of chips: --system groq-rack, groq-576 (lockstep "
               "compile --help lists the presets)\n");
    return;
  }
  fmt::print("\nfits one chip ({:.1f}% of its SRAM)\n\n", 100 * f.fraction_of_chip());
  const auto start = std::chrono::steady_clock::now();
  const compiler::DecodeProgram decode(config, model.get(), system, {weights, ctx});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const lpu::Program& program = decode.program();
  if (dump(a, "placement")) return dump_placement(decode.placement(), system.chip);
  if (dump(a, "schedule")) {
    fmt::print("{}", lpu::write_program_asm(program, lpu::Floorplan(system.chip), {false}));
    return;
  }
  fmt::print("decode step (one token, attention over the {}-token window), scheduled in {:.2f} s\n",
             ctx, seconds);
  print_units(program, system);
  const double step = program.predicted_cycles / system.chip.clock_hz;
  fmt::print("tokens/s       {:.0f} per user (every step takes the same cycles)\n", 1.0 / step);
  if (a.prefill > 1) {
    const std::int64_t rows = std::min<std::int64_t>({a.prefill, ctx, system.chip.mxm_accumulator_rows / 2});
    compiler::DecodeOptions prefill_options{weights, ctx};
    prefill_options.rows = rows;
    const auto t0 = std::chrono::steady_clock::now();
    const compiler::DecodeProgram prefill(config, model.get(), system, prefill_options);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::uint64_t cycles = prefill.program().predicted_cycles;
    fmt::print("prefill        {} tokens in one program: {} = {:.0f} tokens/s; time to first token "
               "{:.1f} us (scheduled in {:.2f} s)\n",
               rows, cycles_and_time(cycles, system.chip.clock_hz),
               rows / (cycles / system.chip.clock_hz), 1e6 * cycles / system.chip.clock_hz, s);
  }
  fmt::print("SRAM placed    {}\n", si(double(decode.sram_bytes()), "B"));
  write_output(a, program, system);
}

void run_compile(const CompileArgs& a) {
  if (a.emit != "summary" && a.emit != "asm" && a.emit != "binary")
    fail("--emit '{}' must be summary, asm or binary", a.emit);
  if (!a.dump_after.empty() && a.dump_after != "graph" && a.dump_after != "precision" &&
      a.dump_after != "placement" && a.dump_after != "schedule")
    fail("--dump-after '{}' must be graph, precision, placement or schedule", a.dump_after);
  const lpu::SystemConfig system = load_lpu_system(a.lpu);
  if (!a.all_reduce.empty()) {
    if (!a.model.empty() || !a.preset.empty() || !a.lpu.gemm.empty())
      fail("give --all-reduce alone, without a model or --gemm");
    if (system.topology.chips_per_node < 2)
      fail("--all-reduce needs a system of chips (--system groq-node, groq-rack, ...); {} is one chip", system.name);
    compile_all_reduce(a, system);
  } else if (!a.lpu.gemm.empty()) {
    if (!a.model.empty() || !a.preset.empty()) fail("give --gemm or a model, not both");
    compile_gemm(a, system);
  } else {
    compile_model(a, system);
  }
}

void add_compile(CLI::App& app) {
  auto args = std::make_shared<CompileArgs>();
  auto* cmd = app.add_subcommand(
      "compile", "lower a model or a matrix multiply onto the simulated LPU and predict its cycles");
  add_model_argument(*cmd, args->model);
  cmd->add_option("--model-preset", args->preset, "a catalog shape instead of a file (no weights)");
  add_lpu_options(*cmd, args->lpu);
  add_weight_precision_option(*cmd, args->weights);
  cmd->add_option("--ctx", args->context, "context length the KV cache holds, tokens");
  cmd->add_option("--dump-after", args->dump_after,
                  "print the compiler's structure after a pass: graph, precision, placement or schedule");
  cmd->add_option("--prefill", args->prefill, "prompt length for the prefill figure, tokens (0: no prefill figure)")
      ->capture_default_str();
  cmd->add_option("--stages", args->stages,
                  "force the pipeline stages of the multi-chip partition (default: chosen)");
  cmd->add_option("--tensor-parallel", args->tensor_parallel,
                  "force the chips each layer is split across: 1, 2, 4 or 8 (default: chosen)");
  cmd->add_option("--prompt", args->prompt,
                  "prompt tokens for a multi-chip system's time to first token")
      ->capture_default_str();
  cmd->add_option("--batch", args->batches,
                  "on a system: sequences per group (e.g. 1,2,3,4) for a batch x pipeline table")
      ->delimiter(',')
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{256}));
  cmd->add_option("--all-reduce", args->all_reduce,
                  "on a system: time one all-reduce of each message size, bytes (e.g. 320,32768,1048576) over a "
                  "node's chips (--tensor-parallel: how many)")
      ->delimiter(',')
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  cmd->add_option("-o,--output", args->output, "write the program (.asm: assembly; else binary)");
  cmd->add_option("--emit", args->emit, "summary, asm (to stdout without -o) or binary")
      ->capture_default_str();
  cmd->callback([args] { run_compile(*args); });
}

LOCKSTEP_COMMAND(80, add_compile);

}  // namespace
}  // namespace lockstep::cli
