#include "plan/deployment_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "lpu/arch/system_config.h"
#include "model/catalog.h"
#include "plan/cost_model.h"
#include "plan/gpu_model.h"
#include "plan/gpu_preset.h"
#include "plan/lpu_speed.h"
#include "compiler/partition_planner.h"

namespace lockstep::plan {
namespace {

// A point of a deployment priced with the finance terms: the whole system serving `batch` x
// `groups` users per unit at `per_user` tokens/s each.
PlanPoint price_point(const Scenario& finance, const PlanOption& option, std::int64_t units,
                      std::int64_t batch, std::int64_t groups, double per_user) {
  Scenario s = finance;
  s.name = option.name;
  s.system = option.name;
  s.capex_usd = option.capex_usd;
  s.system_power_kw = option.power_kw;
  s.chips_per_unit = static_cast<int>(option.chips_per_unit);
  s.units_per_system = static_cast<int>(units);
  s.batch = static_cast<int>(batch);
  s.pipeline_depth = static_cast<int>(groups);
  s.tokens_per_s_per_user = per_user;
  const CostBreakdown c = compute_cost(s);
  PlanPoint p;
  p.batch = batch;
  p.groups = groups;
  p.tokens_per_s_per_user = per_user;
  p.tokens_per_s_per_system = c.tokens_per_s_per_system;
  p.usd_per_million_tokens = c.usd_per_million_tokens;
  p.joules_per_token = c.joules_per_token;
  return p;
}

void sort_points(PlanOption& option) {
  // By throughput; at equal throughput the faster point per user first (the other is dominated).
  std::sort(option.points.begin(), option.points.end(), [](const PlanPoint& a, const PlanPoint& b) {
    if (a.tokens_per_s_per_system != b.tokens_per_s_per_system)
      return a.tokens_per_s_per_system < b.tokens_per_s_per_system;
    return a.tokens_per_s_per_user > b.tokens_per_s_per_user;
  });
}

PlanOption lpu_option(const model::ModelConfig& config, const PlanRequest& r, const Scenario& finance,
                      const std::function<void(const std::string&)>& progress) {
  const lpu::SystemConfig system = lpu::load_system(r.lpu_system);
  const LpuPrice price;
  // As many stages as the model needs on this system (the partition planner's fewest), not
  // every chip: a small model does not spread over 576 chips. When even the whole system does
  // not fit the planner's estimate, the compiler's placement decides on every chip.
  compiler::PartitionRequest fewest;
  fewest.fewest = true;
  int stages = 0, all_stages = 0;
  try {
    const compiler::PartitionPlan need = compiler::plan_partition(config, system, r.weights, r.context, fewest);
    stages = need.stages;
    all_stages = std::max(1, system.topology.chips / need.tensor_parallel);
  } catch (const Error&) {
    all_stages = stages = static_cast<int>(compiler::plan_partition(config, system, r.weights, r.context).stages);
  }
  PlanOption option;
  option.kind = "lpu";
  for (const std::int64_t batch : r.lpu_batches) {
    // The planner's count is an estimate of the placement: when S stages do not place, the
    // compiler says so at once, and a quarter more are tried, up to the whole system.
    LpuPrediction p;
    for (int s = stages;; s = std::min(all_stages, s + std::max(1, s / 4))) {
      try {
        p = predict_lpu(config, r.model, system, r.weights, r.context, batch, s == all_stages ? 0 : s,
                        [&](int done, int total) {
                          if (progress)
                            progress(fmt::format("compiling {} ({}, B = {}) onto {} stages of {}: stage {}/{}",
                                                 r.model, compiler::precision_policy_name(r.weights), batch,
                                                 s, system.name, done, total));
                        });
        break;
      } catch (const Error&) {
        if (s == all_stages) throw;
      }
    }
    option.chips = p.chips;
    option.chips_per_unit = p.chips;
    option.capex_usd = static_cast<double>(p.chips) * price.usd_per_chip;
    option.power_kw = static_cast<double>(p.chips) * price.kw_per_chip;
    option.name = fmt::format("LPU {} ({} chips, {} stages x {})", system.name, p.chips, p.stages, p.tensor_parallel);
    if (p.from_cache) option.note = "LPU speed from the prediction cache (same binary, same inputs)";
    for (const compiler::BatchPoint& b : p.points())
      option.points.push_back(price_point(finance, option, 1, b.batch, b.groups, b.per_user));
  }
  sort_points(option);
  return option;
}

// Whole systems bought so that one model copy of u GPUs fits.
std::int64_t systems_for(int u, const GpuPreset& gpu) { return (u + gpu.system_gpus - 1) / gpu.system_gpus; }

// The GPU side takes the policy's precision for most weights (int8 -> fp8).
GpuPrecision gpu_precision(const compiler::PrecisionPolicy& w) {
  return w.weights == compiler::WeightPrecision::Int8 ? GpuPrecision::Fp8 : GpuPrecision::Fp16;
}

// The model on `gpu`, u GPUs per copy (tensor parallel), as many copies as the systems bought
// for one copy hold.
PlanOption gpu_option(const model::ModelConfig& config, const PlanRequest& r, const Scenario& finance,
                      const GpuPreset& gpu, int u) {
  DecodeSetup setup;
  setup.model = config;
  setup.weights = gpu_precision(r.weights);
  setup.context_tokens = r.context;
  setup.batch = 1;
  setup.gpus_per_unit = u;
  const std::int64_t systems = systems_for(u, gpu);
  const std::int64_t units = systems * gpu.system_gpus / u;
  PlanOption option;
  option.kind = "gpu";
  option.chips = systems * gpu.system_gpus;
  option.chips_per_unit = u;
  option.capex_usd = static_cast<double>(systems) * gpu.system_price_usd;
  option.power_kw = static_cast<double>(systems) * gpu.system_power_w / 1000.0;
  option.name = fmt::format("{} x {} ({} per model copy, {})", option.chips, gpu.name, u,
                            gpu_precision_name(setup.weights));
  for (const DecodeStep& step : sweep_batches(setup, gpu))
    option.points.push_back(price_point(finance, option, units, step.batch, 1, step.tokens_per_s_per_user));
  sort_points(option);
  return option;
}

}  // namespace

DeploymentPlan make_plan(const PlanRequest& r, const std::function<void(const std::string&)>& progress) {
  if (r.context < 1) fail("--ctx must be at least 1 token, got {}", r.context);
  for (const std::int64_t b : r.lpu_batches)
    if (b < 1 || b > 64) fail("--lpu-batch values must be in 1..64 sequences per step, got {}", b);
  DeploymentPlan plan;
  plan.request = r;
  const model::ModelConfig config = model::load_catalog_shape(r.model);
  plan.model_name = r.model;
  plan.parameters = static_cast<double>(config.parameter_count());
  plan.finance = load_scenario_file(r.finance).options.front();

  for (const auto& chip : r.lpu_chips) {
    const lpu::SystemConfig system = lpu::load_system(chip);
    try {
      plan.lpu_sizing.push_back(size_lpu(config, system, r.weights, r.context));
    } catch (const Error& e) {
      plan.sizing_errors.push_back(fmt::format("{}: {}", chip, e.what()));
    }
  }
  if (!r.lpu_system.empty()) plan.options.push_back(lpu_option(config, r, plan.finance, progress));
  // Each GPU twice, as Figure 11 has it: the fewest GPUs per copy (throughput: many copies per
  // system) and a whole system per copy (low latency: 8-way tensor parallel).
  for (const auto& name : r.gpus) {
    const GpuPreset gpu = load_gpu_preset(name);
    DecodeSetup setup;
    setup.model = config;
    setup.weights = gpu_precision(r.weights);
    setup.context_tokens = r.context;
    const int u = min_gpus_per_unit(setup, gpu);
    const std::int64_t systems = systems_for(u, gpu);
    plan.gpu_sizing.push_back({gpu.name, u, static_cast<double>(systems) * gpu.system_price_usd, systems});
    plan.options.push_back(gpu_option(config, r, plan.finance, gpu, u));
    if (u < gpu.system_gpus) plan.options.push_back(gpu_option(config, r, plan.finance, gpu, gpu.system_gpus));
  }
  return plan;
}

}  // namespace lockstep::plan
