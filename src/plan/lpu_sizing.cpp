#include "plan/lpu_sizing.h"

#include <algorithm>

#include "compiler/partition_planner.h"

namespace lockstep::plan {

LpuSizing size_lpu(const model::ModelConfig& config, const lpu::SystemConfig& system,
                   const compiler::PrecisionPolicy& weights, std::int64_t context, const LpuPrice& price) {
  const compiler::PartitionPlan p = compiler::plan_partition(config, system, weights, context);
  LpuSizing s;
  s.chip = system.chip_preset.empty() ? system.name : system.chip_preset;
  s.chips = p.chips;
  s.stages = p.stages;
  s.tensor_parallel = p.tensor_parallel;
  s.racks = (p.chips + price.chips_per_rack - 1) / price.chips_per_rack;
  s.chip_sram_bytes = p.chip_bytes;
  for (const auto& stage : p.stage_plans) s.fullest_chip = std::max(s.fullest_chip, p.fraction_of_chip(stage));
  s.sram_headroom = 1.0 - s.fullest_chip;
  s.capex_usd = static_cast<double>(p.chips) * price.usd_per_chip;
  s.power_kw = static_cast<double>(p.chips) * price.kw_per_chip;
  s.binds = p.binds;
  s.reason = p.reason;
  return s;
}

}  // namespace lockstep::plan
