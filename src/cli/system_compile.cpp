#include "cli/system_compile.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstdio>
#include <fmt/core.h>
#include <unistd.h>

#include "cli/lpu_options.h"
#include "cli/units.h"

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
  fmt::print("\nsystem         {} stages x {}-way tensor parallel = {} chips of {} ({} active)\n",
             stages.size(), P, stages.size() * P, system.name, system.topology.chips);
  fmt::print("  {:<8} {:<24} {:>10} {:>16} {:>14}\n", "stages", "holds (half-layers)", "SRAM/chip",
             "cycles/stage", "starts at");
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
    fmt::print("  {:<8} {:<24} {:>10} {:>16} {:>14}\n", range, holds, si(double(s.sram_bytes), "B"),
               s.cycles, j - i == 1 ? fmt::format("{}", s.start_cycle) : std::string("..."));
    i = j;
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
