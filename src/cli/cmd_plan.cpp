// lockstep plan: what serving costs. `--scenario NAME` prints a scenario file's columns (the
// report's Figure 11 by default); `--model M` sizes and prices M on LPU and GPU deployments,
// as a table, JSON and an SVG chart of the cost-latency frontier.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli/command_registry.h"
#include "core/error.h"
#include "plan/cost_model.h"
#include "plan/cost_table.h"
#include "plan/deployment_plan.h"
#include "plan/gpu_preset.h"
#include "plan/svg_chart.h"

namespace lockstep::cli {
namespace {

struct PlanArgs {
  std::string scenario;
  plan::PlanRequest request;
  std::string weights = "int8";
  std::string svg;
  bool json = false;
  bool list = false;
};

std::string usd(double v) {
  if (v >= 1e6) return fmt::format("{:.2f} M USD", v / 1e6);
  return fmt::format("{} USD", plan::format_thousands(v, 0));
}

plan::LineChart frontier_chart(const plan::DeploymentPlan& p) {
  plan::LineChart chart;
  chart.title = fmt::format("{}: cost against speed per user ({} weights, {}-token context)", p.model_name,
                            compiler::precision_policy_name(p.request.weights), p.request.context);
  chart.x = {"decode speed per user, tokens/s", plan::AxisScale::Log};
  chart.y = {"cost, USD per million tokens", plan::AxisScale::Log};
  chart.width_px = 1280;
  chart.height_px = 720;
  // One curve per option, and for the LPU one per batch size B (its points vary G).
  for (const auto& option : p.options) {
    std::vector<std::int64_t> batches;
    for (const auto& point : option.points)
      if (option.kind == "lpu" && std::find(batches.begin(), batches.end(), point.batch) == batches.end())
        batches.push_back(point.batch);
    if (batches.empty()) batches.push_back(0);  // GPU: every point on one curve
    for (const std::int64_t batch : batches) {
      plan::ChartSeries series{batches.size() > 1 ? fmt::format("{}, B={}", option.name, batch) : option.name, {}};
      for (const auto& point : option.points)
        if (batch == 0 || point.batch == batch)
          series.points.push_back({point.tokens_per_s_per_user, point.usd_per_million_tokens,
                                   option.kind == "lpu" ? fmt::format("G={}", point.groups)
                                                        : fmt::format("B={}", point.batch)});
      if (!series.points.empty()) chart.series.push_back(std::move(series));
    }
  }
  return chart;
}

nlohmann::json plan_json(const plan::DeploymentPlan& p) {
  nlohmann::json j;
  j["model"] = p.model_name;
  j["parameters"] = p.parameters;
  j["weights"] = compiler::precision_policy_name(p.request.weights);
  j["context_tokens"] = p.request.context;
  j["finance"] = p.request.finance;
  for (const auto& s : p.lpu_sizing)
    j["lpu_sizing"].push_back({{"chip", s.chip}, {"chips", s.chips}, {"stages", s.stages},
                               {"tensor_parallel", s.tensor_parallel}, {"racks", s.racks},
                               {"sram_headroom", s.sram_headroom}, {"capex_usd", s.capex_usd},
                               {"power_kw", s.power_kw}});
  for (const auto& e : p.sizing_errors) j["sizing_errors"].push_back(e);
  for (const auto& g : p.gpu_sizing)
    j["gpu_sizing"].push_back({{"gpu", g.gpu}, {"gpus_per_unit", g.gpus_per_unit}, {"systems", g.systems},
                               {"capex_usd", g.capex_usd}});
  for (const auto& o : p.options) {
    nlohmann::json option = {{"name", o.name}, {"kind", o.kind}, {"chips", o.chips},
                             {"chips_per_unit", o.chips_per_unit}, {"capex_usd", o.capex_usd},
                             {"power_kw", o.power_kw}};
    for (const auto& pt : o.points)
      option["points"].push_back({{"batch", pt.batch}, {"groups", pt.groups},
                                  {"tokens_per_s_per_user", pt.tokens_per_s_per_user},
                                  {"tokens_per_s_per_system", pt.tokens_per_s_per_system},
                                  {"usd_per_million_tokens", pt.usd_per_million_tokens},
                                  {"joules_per_token", pt.joules_per_token}});
    j["options"].push_back(option);
  }
  return j;
}

void print_plan(const plan::DeploymentPlan& p, const std::string& svg_path) {
  const auto& f = p.finance;
  fmt::print("{}: {:.1f} B parameters, {} weights, {}-token context\n", p.model_name, p.parameters / 1e9,
             compiler::precision_policy_name(p.request.weights), p.request.context);
  fmt::print("finance ({}): {:.0f} years at {:.0f}% cost of capital, {} USD/kWh, PUE {}, utilisation {:.0f}%, "
             "colocation {} USD/kW/month without power\n\n",
             p.request.finance, f.life_years, 100 * f.cost_of_capital, f.power_usd_per_kwh, f.pue,
             100 * f.utilisation, f.colocation_excl_power_usd_per_kw_month);
  fmt::print("Sizing (one copy of the model)\n");
  fmt::print("  {:<10} {:>7} {:>6} {:>14} {:>14} {:>10}\n", "option", "chips", "racks", "SRAM headroom",
             "capex", "power");
  for (const auto& s : p.lpu_sizing)
    fmt::print("  {:<10} {:>7} {:>6} {:>13.0f}% {:>14} {:>7.1f} kW   ({} stages x {}-way tensor parallel)\n", s.chip,
               s.chips, s.racks, 100 * s.sram_headroom, usd(s.capex_usd), s.power_kw, s.stages,
               s.tensor_parallel);
  for (const auto& e : p.sizing_errors) fmt::print("  {}\n", e);
  for (const auto& g : p.gpu_sizing)
    fmt::print("  {:<10} {:>4} GPU{} per copy; {} system{} of 8 bought: {}\n", g.gpu, g.gpus_per_unit,
               g.gpus_per_unit == 1 ? "" : "s", g.systems, g.systems == 1 ? "" : "s", usd(g.capex_usd));
  fmt::print("\nSpeed and cost as the batch grows (B: sequences per step; G: groups in the LPU pipeline)\n");
  fmt::print("  {:<44} {:>4} {:>4} {:>12} {:>14} {:>12} {:>10}\n", "option", "B", "G", "tok/s/user",
             "tok/s/system", "USD/M tok", "J/token");
  for (const auto& o : p.options) {
    for (const auto& pt : o.points)
      fmt::print("  {:<44} {:>4} {:>4} {:>12.1f} {:>14} {:>12.2f} {:>10.2f}\n", o.name, pt.batch, pt.groups,
                 pt.tokens_per_s_per_user, plan::format_thousands(pt.tokens_per_s_per_system, 0),
                 pt.usd_per_million_tokens, pt.joules_per_token);
    if (!o.note.empty()) fmt::print("  ({})\n", o.note);
  }
  if (!svg_path.empty()) fmt::print("\nchart: {} (USD per million tokens against tokens/s per user; open it in a browser)\n", svg_path);
}

void run_plan_command(PlanArgs& a) {
  if (a.list) {
    fmt::print("scenarios (configs/scenarios): {}\n", fmt::join(plan::scenario_names(), ", "));
    fmt::print("GPUs (configs/gpus): {}\n", fmt::join(plan::gpu_preset_names(), ", "));
    return;
  }
  if (!a.scenario.empty()) {
    const plan::ScenarioFile file = plan::load_scenario_file(a.scenario);
    if (a.json) fmt::print("{}\n", plan::cost_table_json(file).dump(2));
    else fmt::print("{}{}", file.description.empty() ? "" : file.description + "\n\n",
                    plan::render_cost_table(file.options));
    return;
  }
  a.request.weights = compiler::parse_precision_policy(a.weights);
  const bool terminal = isatty(fileno(stderr));
  const plan::DeploymentPlan p = plan::make_plan(a.request, [&](const std::string& line) {
    if (terminal) fmt::print(stderr, "\r{}\x1b[K", line);
  });
  if (terminal) fmt::print(stderr, "\r\x1b[K");
  std::string svg = a.svg.empty() ? a.request.model + "-plan.svg" : a.svg;
  if (svg == "none") svg.clear();
  if (!svg.empty()) {
    std::ofstream out(svg);
    if (!out || !(out << plan::render_svg(frontier_chart(p))))
      fail("cannot write the chart to '{}'", svg);
  }
  if (a.json) fmt::print("{}\n", plan_json(p).dump(2));
  else print_plan(p, svg);
}

void add_plan_command(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  auto* cmd = app.add_subcommand(
      "plan", "what serving costs: the report's Figure 11 (--scenario), or a model sized and priced on LPU "
              "and GPU deployments (--model), USD per million tokens against tokens/s per user");
  auto* scenario = cmd->add_option("--scenario", args->scenario,
                                   "print a scenario file's columns: a name in configs/scenarios "
                                   "(report-figure11) or a .yaml path");
  cmd->add_option("--model", args->request.model, "catalog model to size and price (configs/models)")
      ->excludes(scenario);
  cmd->add_option("--system", args->request.lpu_chips, "LPU chip presets to size (default: lpu-v1 and lpu-v2)")
      ->delimiter(',');
  cmd->add_option("--lpu-system", args->request.lpu_system,
                  "system preset the model is compiled onto for the LPU's speed ('' to skip)")
      ->capture_default_str();
  cmd->add_option("--lpu-batch", args->request.lpu_batches, "sequences per LPU step, each one compile (1,3)")
      ->delimiter(',');
  cmd->add_option("--gpu", args->request.gpus, "GPU presets (configs/gpus)")->delimiter(',');
  cmd->add_option("--weights", args->weights, "weight precision: int8 (fp8 on GPUs) or fp16; for the LPU also per projection, e.g. int8,output=fp16")->capture_default_str();
  cmd->add_option("--ctx", args->request.context, "tokens of context each sequence holds")->capture_default_str();
  cmd->add_option("--finance", args->request.finance,
                  "scenario whose first column's financial terms price the options")
      ->capture_default_str();
  cmd->add_option("--svg", args->svg, "chart file (default MODEL-plan.svg; 'none' for no chart)");
  cmd->add_flag("--json", args->json, "print JSON instead of tables");
  cmd->add_flag("--list", args->list, "list the scenario files and GPU presets");
  cmd->callback([args] { run_plan_command(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(90, add_plan_command);

}  // namespace lockstep::cli
