#include "plan/cost_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

namespace lockstep::plan {
namespace {

// One row of the table: its label (with the unit) and how to print one column's cell.
struct Row {
  const char* label;
  std::function<std::string(const Scenario&, const CostBreakdown&)> cell;
};

// An input as written: whole numbers with separators, others in their shortest form (0.087).
std::string input(double v) {
  if (std::abs(v) < 1e15 && v == std::floor(v)) return format_thousands(v, 0);
  return fmt::format("{}", v);
}

// A fraction as a percentage without trailing zeros: 0.18 -> "18%", 0.125 -> "12.5%".
std::string percent(double fraction) {
  std::string s = fmt::format("{:.2f}", fraction * 100);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + "%";
}

std::vector<Row> rows(bool any_margin) {
  using S = const Scenario&;
  using C = const CostBreakdown&;
  std::vector<Row> r = {
      {"system", [](S s, C) { return s.system; }},
      {"capex (USD)", [](S s, C) { return format_thousands(s.capex_usd, 0); }},
  };
  if (any_margin)
    r.push_back(
        {"margin", [](S s, C) { return s.margin ? percent(*s.margin) : std::string("-"); }});
  const std::vector<Row> rest = {
      {"life (years)", [](S s, C) { return input(s.life_years); }},
      {"cost of capital (per year)", [](S s, C) { return percent(s.cost_of_capital); }},
      {"capex amortisation (USD/month)",
       [](S, C c) { return format_thousands(c.amortisation_usd_per_month, 0); }},
      {"cost of capital (USD/month)",
       [](S, C c) { return format_thousands(c.cost_of_capital_usd_per_month, 0); }},
      {"power price (USD/kWh)", [](S s, C) { return input(s.power_usd_per_kwh); }},
      {"hours per month", [](S s, C) { return input(s.hours_per_month); }},
      {"utilisation", [](S s, C) { return percent(s.utilisation); }},
      {"PUE", [](S s, C) { return input(s.pue); }},
      {"power (USD/kW/month)",
       [](S, C c) { return format_thousands(c.power_usd_per_kw_month, 2); }},
      {"colocation excl. power (USD/kW/month)",
       [](S s, C) { return format_thousands(s.colocation_excl_power_usd_per_kw_month, 2); }},
      {"colocation incl. power (USD/kW/month)",
       [](S, C c) { return format_thousands(c.hosting_usd_per_kw_month, 2); }},
      {"system power (kW)", [](S s, C) { return input(s.system_power_kw); }},
      {"hosting (USD/month)", [](S, C c) { return format_thousands(c.hosting_usd_per_month, 0); }},
      {"total (USD/hour)", [](S, C c) { return format_thousands(c.total_usd_per_hour, 1); }},
      {"chips per inference unit", [](S s, C) { return input(s.chips_per_unit); }},
      {"units per system", [](S s, C) { return input(s.units_per_system); }},
      {"tokens/s per user", [](S s, C) { return input(s.tokens_per_s_per_user); }},
      {"batch", [](S s, C) { return input(s.batch); }},
      {"pipeline depth", [](S s, C) { return input(s.pipeline_depth); }},
      {"concurrent users per unit", [](S, C c) { return input(c.concurrent_users_per_unit); }},
      {"tokens/s per unit", [](S, C c) { return format_thousands(c.tokens_per_s_per_unit, 0); }},
      {"tokens/s per system",
       [](S, C c) { return format_thousands(c.tokens_per_s_per_system, 0); }},
      {"USD per million tokens",
       [](S, C c) { return format_thousands(c.usd_per_million_tokens, 2); }},
      {"joules per token (facility, x PUE)",
       [](S, C c) { return format_thousands(c.joules_per_token, 2); }},
      {"joules per token (IT)", [](S, C c) { return format_thousands(c.joules_per_token_it, 2); }},
  };
  r.insert(r.end(), rest.begin(), rest.end());
  return r;
}

}  // namespace

std::string format_thousands(double value, int decimals) {
  std::string s = fmt::format("{:.{}f}", std::abs(value), decimals);
  // "-0.00" is noise: the sign only when something non-zero is printed.
  const bool negative = value < 0 && s.find_first_not_of("0.") != std::string::npos;
  const std::size_t point = s.find('.');
  const std::size_t int_end = point == std::string::npos ? s.size() : point;
  std::string out;
  for (std::size_t i = 0; i < int_end; ++i) {
    if (i > 0 && (int_end - i) % 3 == 0) out += ',';
    out += s[i];
  }
  out += s.substr(int_end);
  return negative ? "-" + out : out;
}

std::string render_cost_table(const std::vector<Scenario>& options) {
  std::vector<CostBreakdown> costs;
  bool any_margin = false;
  for (const auto& s : options) {
    costs.push_back(compute_cost(s));
    any_margin = any_margin || s.margin.has_value();
  }
  const std::vector<Row> table = rows(any_margin);

  // Cells first, then widths: labels left-aligned, each column right-aligned to its widest cell.
  std::vector<std::vector<std::string>> cells(table.size());
  std::size_t label_width = 0;
  std::vector<std::size_t> width(options.size());
  for (std::size_t j = 0; j < options.size(); ++j) width[j] = options[j].name.size();
  for (std::size_t i = 0; i < table.size(); ++i) {
    label_width = std::max(label_width, std::string(table[i].label).size());
    for (std::size_t j = 0; j < options.size(); ++j) {
      cells[i].push_back(table[i].cell(options[j], costs[j]));
      width[j] = std::max(width[j], cells[i].back().size());
    }
  }
  std::string out = fmt::format("{:<{}}", "", label_width);
  for (std::size_t j = 0; j < options.size(); ++j)
    out += fmt::format("  {:>{}}", options[j].name, width[j]);
  out += '\n';
  for (std::size_t i = 0; i < table.size(); ++i) {
    out += fmt::format("{:<{}}", table[i].label, label_width);
    for (std::size_t j = 0; j < options.size(); ++j)
      out += fmt::format("  {:>{}}", cells[i][j], width[j]);
    out += '\n';
  }
  return out;
}

nlohmann::json cost_json(const Scenario& s, const CostBreakdown& c) {
  nlohmann::json j;
  j["name"] = s.name;
  j["system"] = s.system;
  if (!s.description.empty()) j["description"] = s.description;
  if (s.margin) j["margin"] = *s.margin;
  j["inputs"] = {
      {"capex_usd", s.capex_usd},
      {"life_years", s.life_years},
      {"cost_of_capital", s.cost_of_capital},
      {"power_usd_per_kwh", s.power_usd_per_kwh},
      {"hours_per_month", s.hours_per_month},
      {"utilisation", s.utilisation},
      {"pue", s.pue},
      {"colocation_excl_power_usd_per_kw_month", s.colocation_excl_power_usd_per_kw_month},
      {"system_power_kw", s.system_power_kw},
      {"chips_per_unit", s.chips_per_unit},
      {"units_per_system", s.units_per_system},
      {"batch", s.batch},
      {"pipeline_depth", s.pipeline_depth},
      {"tokens_per_s_per_user", s.tokens_per_s_per_user},
  };
  j["sources"] = nlohmann::json::object();
  for (const auto& [key, text] : s.sources) j["sources"][key] = text;
  j["costs"] = {
      {"amortisation_usd_per_month", c.amortisation_usd_per_month},
      {"cost_of_capital_usd_per_month", c.cost_of_capital_usd_per_month},
      {"power_usd_per_kw_month", c.power_usd_per_kw_month},
      {"hosting_usd_per_kw_month", c.hosting_usd_per_kw_month},
      {"hosting_usd_per_month", c.hosting_usd_per_month},
      {"total_usd_per_month", c.total_usd_per_month},
      {"total_usd_per_hour", c.total_usd_per_hour},
      {"chips_per_system", c.chips_per_system},
      {"concurrent_users_per_unit", c.concurrent_users_per_unit},
      {"concurrent_users_per_system", c.concurrent_users_per_system},
      {"tokens_per_s_per_unit", c.tokens_per_s_per_unit},
      {"tokens_per_s_per_system", c.tokens_per_s_per_system},
      {"tokens_per_month", c.tokens_per_month},
      {"usd_per_million_tokens", c.usd_per_million_tokens},
      {"joules_per_token", c.joules_per_token},
      {"joules_per_token_it", c.joules_per_token_it},
  };
  return j;
}

nlohmann::json cost_table_json(const ScenarioFile& file) {
  nlohmann::json j;
  j["scenario"] = file.name;
  j["file"] = file.path;
  j["description"] = file.description;
  j["options"] = nlohmann::json::array();
  for (const auto& s : file.options) j["options"].push_back(cost_json(s, compute_cost(s)));
  return j;
}

}  // namespace lockstep::plan
