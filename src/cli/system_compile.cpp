#include "cli/system_compile.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstdio>
#include <fmt/core.h>
#include <unistd.h>

#include "cli/lpu_options.h"
#include "cli/roofline_report.h"
#include "cli/units.h"
#include "lpu/arch/topology.h"
#include "lpu/program/program_roofline.h"

namespace lockstep::cli {

std::function<void(int, int, std::size_t)> scheduling_progress(std::string indent, bool log_final_line) {
  const bool terminal = isatty(fileno(stderr));
  return [=](int done, int stages, std::size_t programs) {
    if (terminal || (log_final_line && done == stages))
      fmt::print(stderr, "{}{}scheduling stage {}/{} ({} distinct chip programs){}", terminal ? "\r" : "",
                 indent, done, stages, programs, done == stages ? "\n" : "");
  };
}

compiler::SystemDecode compile_system(const model::ModelConfig& config, const model::Model* model,
                                 const lpu::SystemConfig& system, const SystemCompileOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  compiler::SystemDecode decode(config, model, system, {options.weights, options.context}, options.request,
                           scheduling_progress("", true), options.threads);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& stages = decode.stages();
  const int P = decode.tensor_parallel();
  const lpu::Floorplan floorplan(system.chip);
  const auto occupancy = static_cast<std::uint32_t>(
      lpu::Topology(system).link_occupancy_cycles(system.chip.vector_bytes));
  // Each distinct program's roofline, once; a stage's is its longest program's (the one that
  // sets its cycles).
  std::vector<lpu::Roofline> of_program;
  for (const lpu::Program& p : decode.program().programs)
    of_program.push_back(lpu::program_roofline(p, system.chip, floorplan, occupancy));
  std::vector<int> program_of_chip(system.topology.chips, -1);
  for (const lpu::ChipAssignment& c : decode.program().chips) program_of_chip[c.chip] = c.program;
  auto stage_roofline = [&](const lpu::StageInfo& stage) {
    const lpu::Roofline* longest = nullptr;
    for (int chip : stage.chips) {
      const lpu::Roofline& r = of_program[static_cast<std::size_t>(program_of_chip[chip])];
      if (longest == nullptr || r.cycles >= longest->cycles) longest = &r;
    }
    return *longest;
  };
  std::vector<lpu::Roofline> rooflines;
  for (const lpu::StageInfo& stage : stages) rooflines.push_back(stage_roofline(stage));
  fmt::print("\nsystem         {} stages x {}-way tensor parallel = {} chips of {} ({} active)\n",
             stages.size(), P, stages.size() * P, system.name, system.topology.chips);
  fmt::print("  {:<8} {:<24} {:>10} {:>16} {:>14} {:>9}  {}\n", "stages", "holds (half-layers)", "SRAM/chip",
             "cycles/stage", "starts at", "roofline", "binds (lpu/program/program_roofline.h)");
  for (std::size_t i = 0; i < stages.size();) {
    std::size_t j = i + 1;
    const auto& s = stages[i];
    auto units = [](const lpu::StageInfo& x) { return x.end_unit - x.first_unit; };
    while (j < stages.size() && j + 1 < stages.size() && units(stages[j]) == units(s) &&
           stages[j].cycles == s.cycles && i > 0)
      ++j;
    std::string holds = fmt::format("{} unit{} ({}..{})", units(s), units(s) == 1 ? "" : "s",
                                    s.first_unit, s.end_unit - 1);
    if (i == 0) holds += " + embedding";
    if (j == stages.size()) holds += " + LM head";
    if (j - i > 1) holds = fmt::format("{} each", units(s));
    const std::string range = j - i == 1 ? fmt::format("{}", i) : fmt::format("{}-{}", i, j - 1);
    const lpu::Roofline& r = rooflines[i];
    fmt::print("  {:<8} {:<24} {:>10} {:>16} {:>14} {:>8.1f}%  {} ({} cycles)\n", range, holds,
               si(double(s.sram_bytes), "B"), s.cycles,
               j - i == 1 ? fmt::format("{}", s.start_cycle) : std::string("..."), 100 * r.fraction(),
               r.binding().resource, r.binding().cycles);
    i = j;
  }
  {
    // The token crosses the stages one after another: the sum of their bounds and one link
    // transfer per hand-over bound the step.
    std::uint64_t bound = 0, run = 0;
    for (const lpu::Roofline& r : rooflines) {
      bound += r.binding().cycles;
      run += r.cycles;
    }
    const std::uint64_t hops =
        (stages.size() - 1) * static_cast<std::uint64_t>(lpu::Topology(system).link_transfer_cycles(system.chip.vector_bytes));
    fmt::print("roofline       the step takes {:.1f}% of its bound: the stages' bounds ({} cycles in all) "
               "and {} hand-overs of {} cycles each sum to {} cycles, against {} (the stage programs "
               "alone: {} cycles); the longest stage:\n",
               decode.cycles() ? 100.0 * (bound + hops) / decode.cycles() : 0.0, bound, stages.size() - 1,
               stages.size() > 1 ? hops / (stages.size() - 1) : 0, bound + hops, decode.cycles(), run);
    const std::size_t slowest = static_cast<std::size_t>(
        std::max_element(rooflines.begin(), rooflines.end(),
                         [](const lpu::Roofline& a, const lpu::Roofline& b) { return a.cycles < b.cycles; }) -
        rooflines.begin());
    print_roofline(rooflines[slowest], system.chip.clock_hz, fmt::format("  stage {}", slowest), "    ");
  }
  fmt::print("why            {}\n", decode.plan().reason);
  fmt::print("programs       {} distinct chip programs for {} chips, scheduled in {:.2f} s\n",
             decode.distinct_programs(), decode.program().chips.size(), seconds);
  const compiler::SystemSpeed speed = compiler::system_speed(decode, system, options.prompt);
  fmt::print("decode step    {} per token on the system clock (attention over the {}-token window)\n",
             cycles_and_time(decode.cycles(), system.chip.clock_hz), decode.context());
  fmt::print("tokens/s       {:.0f} per user (every step takes the same cycles)\n", speed.tokens_per_s);
  fmt::print("TTFT           {:.1f} ms for a {}-token prompt (one prompt token enters the pipeline per "
             "stage period of {:.1f} us)\n",
             1e3 * speed.ttft_seconds, options.prompt, 1e6 * speed.stage_period_seconds);
  if (!options.batches.empty()) {
    fmt::print("\nbatch x pipeline (G groups of B sequences in the {} stages; batch_pipeline() in "
               "src/cli/system_compile.h)\n",
               stages.size());
    fmt::print("  {:>5} {:>7} {:>7} {:>14} {:>16} {:>18} {:>22}\n", "B", "groups", "users", "step latency",
               "tokens/s/user", "tokens/s/system", fmt::format("TTFT ({} tok, B-chunks)", options.prompt));
    for (const std::int64_t batch : options.batches) {
      compiler::DecodeOptions step_options{options.weights, options.context};
      step_options.rows = batch;
      std::optional<compiler::SystemDecode> batched;
      if (batch != 1) batched.emplace(config, nullptr, system, step_options, options.request,
                                      std::function<void(int, int, std::size_t)>{}, options.threads);
      const compiler::SystemDecode& step = batched ? *batched : decode;
      const double ttft = compiler::system_speed(step, system, options.prompt).ttft_seconds;
      for (const compiler::BatchPoint& p : compiler::batch_pipeline(step, system, batch))
        fmt::print("  {:>5} {:>7} {:>7} {:>11.3f} ms {:>16.1f} {:>18.0f} {:>19.1f} ms\n", p.batch, p.groups,
                   p.batch * p.groups, 1e3 * p.latency_s, p.per_user, p.per_system, 1e3 * ttft);
    }
  }
  return decode;
}

}  // namespace lockstep::cli
