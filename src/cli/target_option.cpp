#include "cli/target_option.h"

#include <fmt/format.h>

#include "core/error.h"
#include "lpu/arch/system_config.h"
#include "runtime/cpu_backend.h"
#include "runtime/lpu_system_backend.h"

namespace lockstep::cli {

void add_target_options(CLI::App& command, TargetOptions& o) {
  command.add_option("--target", o.target,
                     "execution target: cpu (fast, static plan), ref (FP32 reference oracle) or "
                     "lpu-sim (simulated LPU)")
      ->capture_default_str();
  command.add_option("-t,--threads", o.threads, "cpu: threads, pinned one per core (0: all cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  command.add_option("--isa", o.isa, "cpu: kernel level: native, avx512, avx2 or portable")
      ->capture_default_str();
  command.add_option("--chip", o.system,
                     "lpu-sim: hardware preset (configs/systems) or .yaml file; a system preset "
                     "(groq-node, groq-rack, ...) splits the model over its chips")
      ->capture_default_str();
  command.add_option("--set", o.overrides, "lpu-sim: override a preset value, key=value");
}

std::unique_ptr<runtime::Backend> make_backend(const TargetOptions& o,
                                               std::shared_ptr<const model::Model> model,
                                               std::int64_t n_ctx, runtime::LpuBackend** lpu) {
  *lpu = nullptr;
  if (o.target == "ref") return runtime::make_reference_backend(std::move(model), n_ctx);
  if (o.target == "cpu") {
    runtime::CpuBackendOptions cpu_options;
    cpu_options.threads = o.threads;
    cpu_options.slots = o.slots;
    const auto isa = cpu::parse_isa(o.isa);
    if (!isa) fail("--isa '{}' must be native, avx512, avx2 or portable", o.isa);
    if (!cpu::isa_supported(*isa))
      fail("--isa {}: this processor lacks those instructions (it runs {})", o.isa,
           cpu::isa_name(cpu::best_isa()));
    cpu_options.isa = *isa;
    cpu_options.log = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
    return runtime::make_cpu_backend(std::move(model), n_ctx, cpu_options);
  }
  if (o.target != "lpu-sim") fail("--target '{}' must be cpu, ref or lpu-sim", o.target);
  std::vector<lpu::SystemOverride> overrides;
  for (const auto& text : o.overrides) overrides.push_back(lpu::parse_system_override(text));
  const lpu::SystemConfig system = lpu::load_system(o.system, overrides);
  // A system preset splits the model over its chips (every step on the system simulator).
  auto backend = system.topology.chips > 1
                     ? runtime::make_lpu_system_backend(std::move(model), system, n_ctx)
                     : runtime::make_lpu_backend(std::move(model), system, n_ctx);
  *lpu = backend.get();
  return backend;
}

std::string describe_simulated(const runtime::LpuBackend& lpu) {
  const double us = lpu.seconds_per_step() * 1e6;
  return fmt::format("simulated on {}: {:.1f} us per token ({} cycles at {:.0f} MHz) = {:.0f} "
                     "tokens/s per user, the same for every token",
                     lpu.system().name, us, lpu.cycles_per_step(),
                     lpu.system().chip.clock_hz / 1e6, 1e6 / us);
}

}  // namespace lockstep::cli
