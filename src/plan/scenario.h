// A deployment scenario for `lockstep plan`: one column of the report's Figure 11 (the
// SemiAnalysis cost model; ../shared/seed/DIGEST.md, "Economics"): what a system costs to buy,
// finance and host, and how many tokens it serves. cost_model.h turns it into USD per million
// tokens.
//
// Scenario files: configs/scenarios/<name>.yaml (found with core/config_files.h, kind
// "scenarios"), one or more columns:
//
//   description: "what these columns compare"
//   defaults:                 # optional: keys shared by every option unless the option sets them
//     life_years: {value: 5, source: "DIGEST.md Figure 11: life 5 years"}
//     ...
//   options:                  # one mapping per column, in the order they are printed
//     - name: "GPU low-latency"
//       system: "8xH100"
//       capex_usd: {value: 350000, source: "..."}
//       ...
//
// Every numeric key is a plain number (a user's input) or {value, source} / {value, assumption}
// (a published constant and where it comes from, as in configs/systems/). The keys are exactly
// the numeric fields of Scenario plus `name`, `system` and the optional `description`; all
// numeric keys but `margin` are required (in the option or in defaults). Every error is one
// sentence naming the file and the dotted key ("options[2].tokens_per_s_per_user",
// "defaults.pue"). Errors are lockstep::Error.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lockstep::plan {

struct Scenario {
  std::string name;          // the column's title: "GPU low-latency"
  std::string system;        // what is bought: "8xH100", "8 racks (576 chips)"
  std::string description;   // optional free text

  // Buying and financing.
  double capex_usd = 0;            // purchase price of the whole system
  double life_years = 0;           // depreciation life
  double cost_of_capital = 0;      // annual rate as a fraction (0.18 = 18%); may be 0
  std::optional<double> margin;    // vendor's margin as a fraction, a label only (the capex is
                                   // the price paid; see cost_model.h)

  // Hosting.
  double power_usd_per_kwh = 0;    // electricity price; may be 0
  double hours_per_month = 0;      // 730 = 24 x 365 / 12
  double utilisation = 0;          // average fraction of nameplate power drawn, in (0, 1]
  double pue = 0;                  // power usage effectiveness, facility / IT power, >= 1
  double colocation_excl_power_usd_per_kw_month = 0;  // space, cooling, network; may be 0.
                                   // Figure 11 prints 253.5 *including* 63.5 of power: 190 here
  double system_power_kw = 0;      // nameplate IT power of the whole system

  // Serving.
  int chips_per_unit = 0;          // chips that hold one copy of the model (an inference unit)
  int units_per_system = 0;        // model copies the system serves at once
  int batch = 0;                   // sequences decoded together per pipeline stage
  int pipeline_depth = 0;          // stages in flight (1 on a GPU)
  double tokens_per_s_per_user = 0;  // decode speed each user sees

  // Where each numeric value comes from, by key ("capex_usd" -> "DIGEST.md ..."); keys given
  // as plain numbers have no entry.
  std::map<std::string, std::string> sources;
};

struct ScenarioFile {
  std::string path;         // the file read
  std::string name;         // its stem: "report-figure11"
  std::string description;  // the file's `description:`, or empty
  std::vector<Scenario> options;  // at least one
};

// Loads configs/scenarios/<name>.yaml, or a path ending in ".yaml".
ScenarioFile load_scenario_file(const std::string& name_or_path);

// The names of the scenario files in configs/scenarios/, sorted.
std::vector<std::string> scenario_names();

// Checks the ranges of a scenario built in code (the loader checks files itself); throws
// lockstep::Error naming `where` and the field: "sizing: tokens_per_s_per_user must be
// positive, got 0".
void check_scenario(const Scenario& s, const std::string& where);

}  // namespace lockstep::plan
