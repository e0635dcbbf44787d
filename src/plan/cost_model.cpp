#include "plan/cost_model.h"

#include <cmath>

namespace lockstep::plan {
namespace {

constexpr double kMonthsPerYear = 12;
constexpr double kSecondsPerHour = 3600;
constexpr double kWattsPerKw = 1000;
constexpr double kTokensPerMillion = 1e6;

}  // namespace

CostBreakdown compute_cost(const Scenario& s) {
  check_scenario(s, s.name.empty() ? std::string("scenario") : "scenario '" + s.name + "'");
  CostBreakdown c;

  // Financing: sinking-fund amortisation plus interest on the whole capex (cost_model.h).
  const double monthly_rate = s.cost_of_capital / kMonthsPerYear;
  const double months = s.life_years * kMonthsPerYear;
  c.cost_of_capital_usd_per_month = s.capex_usd * monthly_rate;
  c.amortisation_usd_per_month =
      monthly_rate > 0 ? s.capex_usd * monthly_rate / std::expm1(months * std::log1p(monthly_rate))
                       : s.capex_usd / months;

  // Hosting: power at utilisation x PUE, plus colocation, per kW of nameplate IT power.
  c.power_usd_per_kw_month = s.power_usd_per_kwh * s.hours_per_month * s.utilisation * s.pue;
  c.hosting_usd_per_kw_month = s.colocation_excl_power_usd_per_kw_month + c.power_usd_per_kw_month;
  c.hosting_usd_per_month = s.system_power_kw * c.hosting_usd_per_kw_month;

  c.total_usd_per_month =
      c.amortisation_usd_per_month + c.cost_of_capital_usd_per_month + c.hosting_usd_per_month;
  c.total_usd_per_hour = c.total_usd_per_month / s.hours_per_month;

  // Serving.
  c.chips_per_system = std::int64_t{s.chips_per_unit} * s.units_per_system;
  c.concurrent_users_per_unit = std::int64_t{s.batch} * s.pipeline_depth;
  c.concurrent_users_per_system = c.concurrent_users_per_unit * s.units_per_system;
  c.tokens_per_s_per_unit =
      static_cast<double>(c.concurrent_users_per_unit) * s.tokens_per_s_per_user;
  c.tokens_per_s_per_system = c.tokens_per_s_per_unit * s.units_per_system;
  c.tokens_per_month = c.tokens_per_s_per_system * kSecondsPerHour * s.hours_per_month;

  c.usd_per_million_tokens =
      c.total_usd_per_hour / (c.tokens_per_s_per_system * kSecondsPerHour) * kTokensPerMillion;
  c.joules_per_token_it = s.system_power_kw * kWattsPerKw / c.tokens_per_s_per_system;
  c.joules_per_token = c.joules_per_token_it * s.pue;
  return c;
}

}  // namespace lockstep::plan
