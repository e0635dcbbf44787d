// Printing the cost model (cost_model.h) of one or more scenarios (scenario.h) the way Figure 11
// lays it out: one row per quantity, units in the row labels, one column per scenario. For
// `lockstep plan --scenario NAME [--json]`.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "plan/cost_model.h"
#include "plan/scenario.h"

namespace lockstep::plan {

// A terminal table: a header line of scenario names, then rows such as
// "capex amortisation (USD/month)   3,638   3,638   26,191   65,998". Numbers carry thousands
// separators and the figure's precision (USD/month whole dollars, USD/hour one decimal, USD per
// million tokens two). Ends with a newline. Throws lockstep::Error for an invalid scenario.
std::string render_cost_table(const std::vector<Scenario>& options);

// {"name", "system", ["description"], ["margin"], "inputs": {<scenario key>: value, ...},
//  "sources": {<key>: text, ...}, "costs": {<CostBreakdown field>: value, ...}}, numbers
// unrounded; keys as in the scenario file and cost_model.h.
nlohmann::json cost_json(const Scenario& s, const CostBreakdown& c);

// {"scenario": file stem, "file": path, "description", "options": [cost_json, ...]}.
nlohmann::json cost_table_json(const ScenarioFile& file);

// `value` rounded to `decimals` places with a comma every three digits: 58408.7 -> "58,409",
// 1234.5 with 1 -> "1,234.5", -0.004 with 2 -> "0.00".
std::string format_thousands(double value, int decimals);

}  // namespace lockstep::plan
