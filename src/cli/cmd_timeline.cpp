// lockstep timeline [MODEL | --model-preset NAME] --system PRESET -o FILE.svg [--trace FILE.json]:
// compiles one decode token onto a multi-chip system, records which unit of which chip is busy
// when (lpu/system_activity.h: each distinct chip program simulated once, in timing mode), and
// draws it: an SVG heat map, one row per chip, and optionally a Chrome / Perfetto trace with one
// process per chip (lpu/system_timeline.h).
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "cli/command_registry.h"
#include "cli/lpu_options.h"
#include "cli/model_argument.h"
#include "cli/system_compile.h"
#include "cli/units.h"
#include "compiler/precision.h"
#include "core/error.h"
#include "lpu/report/system_activity.h"
#include "lpu/report/system_timeline.h"
#include "model/catalog.h"

namespace lockstep::cli {
namespace {

struct TimelineArgs {
  std::string model;
  std::string preset;
  LpuOptions lpu;
  std::string weights = "int8";
  std::int64_t context = 0;
  int stages = 0;
  int tensor_parallel = 0;
  std::int64_t bin = 0;
  std::string output;
  std::string trace;
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string file_size(const std::string& path) {
  return si(static_cast<double>(std::filesystem::file_size(path)), "B");
}

void run_timeline(const TimelineArgs& a) {
  if (a.output.empty() && a.trace.empty()) fail("give -o FILE.svg, --trace FILE.json or both");
  if (a.bin < 0) fail("--bin must be a positive number of cycles, not {}", a.bin);
  const lpu::SystemConfig system = load_lpu_system(a.lpu);
  if (system.topology.chips <= 1)
    fail("{} is one chip; a timeline is for a system of chips (e.g. --system groq-rack)",
         system.name);
  model::ModelConfig config;
  std::string label;
  if (!a.preset.empty()) {
    if (!a.model.empty()) fail("give MODEL or --model-preset, not both");
    config = model::load_catalog_shape(a.preset);
    label = a.preset;
  } else {
    config = open_model(a.model, /*quiet=*/true)->config;  // the shape; the run is timing only
    label = a.model.empty() ? std::string("embedded model") : std::filesystem::path(a.model).filename().string();
  }
  const auto weights = compiler::parse_precision_policy(a.weights);
  const std::int64_t ctx =
      a.context > 0 ? a.context : std::min<std::int64_t>(config.n_ctx_train, 4096);
  fmt::print("{} on {} ({} weights, context {} tokens): compiling one decode token...\n", label,
             system.name, compiler::precision_policy_name(weights), ctx);
  std::fflush(stdout);

  SystemCompileOptions options;
  options.weights = weights;
  options.context = ctx;
  options.request = {a.stages, a.tensor_parallel};
  options.threads = a.lpu.threads;
  const compiler::SystemDecode decode = compile_system(config, nullptr, system, options);

  fmt::print("\nrecording   simulating {} distinct chip programs once each (timing mode)...\n",
             decode.distinct_programs());
  std::fflush(stdout);
  auto t0 = Clock::now();
  const lpu::SystemActivity activity =
      lpu::record_system_activity(decode.program(), system, a.bin);
  fmt::print("recorded    {} chips over {} in {} bins of {} cycles, in {:.1f} s\n",
             activity.chips.size(), cycles_and_time(activity.cycles, system.chip.clock_hz),
             activity.bin_count(), activity.bin_cycles, seconds_since(t0));

  const std::string title =
      fmt::format("{} ({} weights, {}-token window) on {}: one decode token, chip by chip", label,
                  compiler::precision_policy_name(weights), ctx, system.name);
  if (!a.output.empty()) {
    std::ofstream out(a.output, std::ios::binary);
    if (!out) fail("cannot open {} for writing", a.output);
    lpu::write_system_timeline_svg(activity, decode.program(), decode.stages(), title, out);
    out.close();
    if (!out) fail("cannot write {}", a.output);
    fmt::print("wrote       {} ({}): open it in a browser\n", a.output, file_size(a.output));
  }
  if (!a.trace.empty()) {
    std::ofstream out(a.trace, std::ios::binary);
    if (!out) fail("cannot open {} for writing", a.trace);
    lpu::write_system_chrome_trace(activity, decode.program(), decode.stages(), out);
    out.close();
    if (!out) fail("cannot write {}", a.trace);
    fmt::print("wrote       {} ({}): open it at ui.perfetto.dev\n", a.trace, file_size(a.trace));
  }
}

void add_timeline(CLI::App& app) {
  auto args = std::make_shared<TimelineArgs>();
  auto* cmd = app.add_subcommand(
      "timeline",
      "draw one decode token on a multi-chip system: which chip and unit is busy when (SVG, "
      "Perfetto)");
  cmd->footer(
      "Compiles the model onto the system (as `lockstep compile --system ...`; a 70B model on\n"
      "groq-576 takes one to two minutes), simulates each distinct chip program once in\n"
      "timing mode, and shifts each chip's activity by its start cycle onto the system clock.\n"
      "The SVG has one row per chip in pipeline order; colour = the unit kind busiest in each\n"
      "bin. The trace (--trace) has one process per chip with a thread per unit kind and one\n"
      "for its link sends.\n\n"
      "Example:\n"
      "  lockstep timeline --model-preset llama-2-70b --system groq-576 --weights int8 \\\n"
      "      --ctx 1024 -o token.svg --trace token.json");
  add_model_argument(*cmd, args->model);
  cmd->add_option("--model-preset", args->preset, "a catalog shape instead of a file");
  cmd->add_option("--system", args->lpu.system,
                  "system preset of several chips (groq-node, groq-rack, groq-576) or a .yaml file")
      ->required();
  cmd->add_option("--set", args->lpu.overrides,
                  "override one value of the preset, e.g. --set chip.clock_hz=1e9 (repeatable)");
  add_weight_precision_option(*cmd, args->weights);
  cmd->add_option("--ctx", args->context, "context length the KV cache holds, tokens");
  cmd->add_option("--stages", args->stages, "force the pipeline stages (default: chosen)");
  add_compile_threads_option(*cmd, args->lpu);
  cmd->add_option("--tensor-parallel", args->tensor_parallel,
                  "force the chips each layer is split across: 1, 2, 4 or 8 (default: chosen)");
  cmd->add_option("--bin", args->bin, "cycles per time bin (default: about 1500 bins per token)");
  cmd->add_option("-o,--output", args->output, "write the SVG picture here");
  cmd->add_option("--trace", args->trace, "write a Chrome / Perfetto trace (JSON) here");
  cmd->callback([args] { run_timeline(*args); });
}

LOCKSTEP_COMMAND(87, add_timeline);

}  // namespace
}  // namespace lockstep::cli
