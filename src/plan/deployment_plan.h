// `lockstep plan --model`: one model priced on LPU and GPU deployments. For each option, a curve
// of (tokens/s per user, USD per million tokens, joules per token) as the batch varies:
//   LPU rows: the model compiled onto an LPU system by lockstep's compiler (plan/lpu_speed.h),
//     G groups of B sequences sharing its pipeline stages; capex and power from the chips it
//     uses at plan/lpu_sizing.h's price per chip.
//   GPU rows: the analytic decode model (plan/gpu_model.h) on the fewest GPUs that hold the
//     model, B = 1, 2, 4, ... up to what fits; capex and power of whole GPU systems (8 GPUs).
// Every option is priced by the Figure 11 cost model (plan/cost_model.h) with the financial
// terms (life, cost of capital, power price, PUE, colocation) of a scenario file's first column.
// Sizing: the chips, racks, SRAM headroom and capex each LPU chip preset needs, and the GPUs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/precision.h"
#include "plan/lpu_sizing.h"
#include "plan/scenario.h"

namespace lockstep::plan {

struct PlanRequest {
  std::string model = "llama-3.3-70b";        // catalog name or shape .yaml
  compiler::PrecisionPolicy weights = compiler::WeightPrecision::Int8;  // LPU and GPU (int8 -> fp8 on GPUs)
  std::int64_t context = 1024;                // tokens each sequence holds
  std::vector<std::string> lpu_chips = {"lpu-v1", "lpu-v2"};  // chip presets to size
  std::string lpu_system = "groq-576";        // system preset the model is compiled onto ("": none)
  std::vector<std::int64_t> lpu_batches = {1};  // B per compiled step (each is one compile)
  std::vector<std::string> gpus = {"h100-sxm", "b300"};
  std::string finance = "report-figure11";    // scenario whose first column's terms apply
};

struct PlanPoint {
  std::int64_t batch = 1;         // sequences per step
  std::int64_t groups = 1;        // LPU: groups in the pipeline (GPU: 1)
  double tokens_per_s_per_user = 0;
  double tokens_per_s_per_system = 0;
  double usd_per_million_tokens = 0;
  double joules_per_token = 0;    // facility energy (x PUE)
};

struct PlanOption {
  std::string name;               // "LPU groq-576 (576 x lpu-v1)", "H100-SXM x 2 (fp8)"
  std::string kind;               // "lpu" or "gpu"
  std::int64_t chips = 0;         // chips or GPUs bought
  std::int64_t chips_per_unit = 0;  // holding one copy of the model
  double capex_usd = 0;
  double power_kw = 0;
  std::vector<PlanPoint> points;  // by increasing tokens/s per system
  std::string note;               // caveats for people ("from the prediction cache")
};

struct GpuSizing {
  std::string gpu;
  int gpus_per_unit = 0;          // the fewest that hold the weights and one sequence's KV
  double capex_usd = 0;           // of the whole systems bought for one unit
  std::int64_t systems = 0;
};

struct DeploymentPlan {
  PlanRequest request;
  std::string model_name;
  double parameters = 0;
  std::vector<LpuSizing> lpu_sizing;  // per chip preset (skipped when it cannot fit: see errors)
  std::vector<std::string> sizing_errors;
  std::vector<GpuSizing> gpu_sizing;
  std::vector<PlanOption> options;
  Scenario finance;                   // the terms used (its serving fields unused)
};

// progress(line) for long steps (compiling the LPU system). Throws lockstep::Error naming the
// bad input (unknown model, preset, a model that fits no option).
DeploymentPlan make_plan(const PlanRequest& request, const std::function<void(const std::string&)>& progress);

}  // namespace lockstep::plan
