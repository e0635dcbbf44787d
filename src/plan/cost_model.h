// The cost model of the report's Figure 11 (SemiAnalysis; ../shared/seed/DIGEST.md,
// "Economics"): from a Scenario (scenario.h), every row of the figure down to USD per million
// tokens, plus joules per token.
//
// The formulas below were found by reproducing every printed value of the four columns to the
// precision printed (tests/plan/cost_model_test.cpp checks all of them). With r = the annual
// cost of capital / 12 (monthly rate) and n = 12 x life in years (months):
//
//   cost of capital   = capex x r                        (350,000 x 0.18 / 12 = 5,250)
//   capex amortisation = capex x r / ((1 + r)^n - 1)      (350,000 -> 3,638; 2.52 M -> 26,191)
//       the sinking-fund payment: amortisation + cost of capital is the level monthly payment
//       of an n-month annuity at rate r, capex x r / (1 - (1 + r)^-n) = 8,888, split into
//       interest on the whole capex and repayment. Conventions that do NOT reproduce the
//       figure: straight line capex / n = 5,833; yearly compounding 0.18 / (1.18^5 - 1) / 12
//       x capex = 4,077. With r = 0 the amortisation is capex / n.
//   power             = price_per_kwh x hours_per_month x utilisation x PUE  per kW
//                       (0.087 x 730 x 0.8 x 1.25 = 63.51 $/kW/month; the figure prints 63.5)
//   hosting           = system_power_kw x (colocation excluding power + power)
//                       (10.2 x 253.51 = 2,586; 230.4 x 253.51 = 58,409)
//       The figure prints 253.5 "incl. power 63.5", but 230.4 x 253.5 = 58,406, not the
//       printed 58,409: the model adds the unrounded 63.51 to a colocation of 190 (= 253.5 -
//       63.5). Ambiguity: utilisation x PUE = 0.8 x 1.25 = 1 exactly, so the figure cannot
//       tell "both multiply the power bill" (used here: average IT power = utilisation x
//       nameplate, the facility draws PUE x that) from "neither enters".
//   total per hour    = (amortisation + cost of capital + hosting) / hours_per_month
//                       (unrounded parts: 11,473.5 / 730 = 15.7)
//   concurrent users per unit   = batch x pipeline depth   (2, 64, 48: the figure's row is per
//                                 inference unit; per system it is x units_per_system)
//   tokens/s per unit           = concurrent users per unit x tokens/s per user
//                                 (840, 1,920, 24,000)
//   tokens/s per system         = tokens/s per unit x units_per_system (GPU throughput: 7,680)
//   USD per million tokens      = total per hour / (tokens/s per system x 3600) x 1e6
//                                 (5.20, 0.57, 1.94, 3.48)
//       Tokens are counted at the full rate every hour of the month: utilisation lowers the
//       power bill only, as in the figure (5.20 would be 6.50 if it also scaled tokens).
//       The GPU throughput column reproduces 0.57 only with all 4 units serving (2.27 with one).
//
// Joules per token (not in the figure): system_power_kw x 1000 / tokens/s per system is the
// IT energy (at nameplate power, while serving at the stated rate); x PUE it is the facility
// energy, which is the one `lockstep plan` reports as joules_per_token. Utilisation does not
// enter: a system serving at the stated rate draws its nameplate power (an assumption; the
// report gives no measured power at load).
//
// The margin column: the figure's "Groq at 60% margin" capex 6,350,000 is not 2,520,000 / (1 -
// 0.6) = 6,300,000; the model takes capex as given and Scenario::margin as a label only.
#pragma once

#include <cstdint>

#include "plan/scenario.h"

namespace lockstep::plan {

struct CostBreakdown {
  // Buying and financing, USD per month.
  double amortisation_usd_per_month = 0;
  double cost_of_capital_usd_per_month = 0;
  // Hosting.
  double power_usd_per_kw_month = 0;      // 63.51 in Figure 11
  double hosting_usd_per_kw_month = 0;    // colocation excluding power + power: 253.51
  double hosting_usd_per_month = 0;       // x system_power_kw
  // Totals.
  double total_usd_per_month = 0;
  double total_usd_per_hour = 0;
  // Serving.
  std::int64_t chips_per_system = 0;           // chips_per_unit x units_per_system
  std::int64_t concurrent_users_per_unit = 0;  // batch x pipeline_depth (the figure's row)
  std::int64_t concurrent_users_per_system = 0;
  double tokens_per_s_per_unit = 0;
  double tokens_per_s_per_system = 0;
  double tokens_per_month = 0;            // tokens/s per system x 3600 x hours_per_month
  // Results.
  double usd_per_million_tokens = 0;
  double joules_per_token = 0;            // facility energy: x PUE
  double joules_per_token_it = 0;         // the system's own (IT) energy
};

// Every row of Figure 11 for `s`. Checks `s` first (check_scenario, naming s.name), so a
// scenario built in code with a zero rate or price is an error, not a division by zero.
CostBreakdown compute_cost(const Scenario& s);

}  // namespace lockstep::plan
