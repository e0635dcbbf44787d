// The cost model of `lockstep plan` reproduces every row of the report's Figure 11 (the
// SemiAnalysis model; ../shared/seed/DIGEST.md, "Economics") from configs/scenarios/
// report-figure11.yaml, read through the real loader; and every kind of bad scenario file gives
// one sentence naming the file and the dotted key.
#include "plan/cost_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "plan/cost_table.h"
#include "plan/scenario.h"
#include "support/expect_error.h"
#include "support/paths.h"

namespace lockstep::plan {
namespace {

// One column of Figure 11 as printed in DIGEST.md (copied here so the test runs without
// ../shared): every row the model computes, as text at the figure's precision.
struct PrintedColumn {
  const char* name;
  const char* system;
  const char* amortisation_usd_per_month;     // "monthly capex amortisation"
  const char* cost_of_capital_usd_per_month;  // "monthly cost of capital"
  const char* hosting_usd_per_kw_month;       // "colocation $/kW/month (incl. power 63.5)"
  const char* power_usd_per_kw_month;         // the "incl. power 63.5"
  const char* hosting_usd_per_month;          // "monthly hosting"
  const char* total_usd_per_hour;             // "total $/hour"
  int concurrent_users;                       // "batch / pipeline depth / concurrent users"
  const char* tokens_per_s_per_unit;          // "tokens/s per unit"
  const char* usd_per_million_tokens;         // "USD per million tokens"
};

constexpr PrintedColumn kFigure11[] = {
    {"GPU low-latency", "8xH100", "3,638", "5,250", "253.5", "63.5", "2,586", "15.7", 2, "840",
     "5.20"},
    {"GPU throughput", "8xH100", "3,638", "5,250", "253.5", "63.5", "2,586", "15.7", 64, "1,920",
     "0.57"},
    {"Groq at cost", "8 racks (576 chips)", "26,191", "37,800", "253.5", "63.5", "58,409",
     "167.7", 48, "24,000", "1.94"},
    {"Groq at 60% margin", "8 racks (576 chips)", "65,998", "95,250", "253.5", "63.5", "58,409",
     "300.9", 48, "24,000", "3.48"},
};

// Decimals of a printed number: "15.7" -> 1, "3,638" -> 0.
int decimals(const std::string& printed) {
  const auto point = printed.find('.');
  return point == std::string::npos ? 0 : static_cast<int>(printed.size() - point - 1);
}

// `value` printed at the precision of `printed` is `printed`.
void expect_printed(double value, const std::string& printed, const char* row) {
  EXPECT_EQ(format_thousands(value, decimals(printed)), printed) << row << ": " << value;
}

TEST(CostModelTest, ReproducesEveryRowOfFigure11) {
  const ScenarioFile file = load_scenario_file("report-figure11");
  EXPECT_EQ(file.name, "report-figure11");
  ASSERT_EQ(file.options.size(), std::size(kFigure11));
  for (std::size_t i = 0; i < file.options.size(); ++i) {
    const Scenario& s = file.options[i];
    const PrintedColumn& want = kFigure11[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(s.name, want.name);
    EXPECT_EQ(s.system, want.system);
    const CostBreakdown c = compute_cost(s);
    expect_printed(c.amortisation_usd_per_month, want.amortisation_usd_per_month, "amortisation");
    expect_printed(c.cost_of_capital_usd_per_month, want.cost_of_capital_usd_per_month,
                   "cost of capital");
    expect_printed(c.power_usd_per_kw_month, want.power_usd_per_kw_month, "power per kW");
    expect_printed(c.hosting_usd_per_kw_month, want.hosting_usd_per_kw_month, "hosting per kW");
    expect_printed(c.hosting_usd_per_month, want.hosting_usd_per_month, "hosting");
    expect_printed(c.total_usd_per_hour, want.total_usd_per_hour, "total per hour");
    EXPECT_EQ(c.concurrent_users_per_unit, want.concurrent_users);
    expect_printed(c.tokens_per_s_per_unit, want.tokens_per_s_per_unit, "tokens/s per unit");
    expect_printed(c.usd_per_million_tokens, want.usd_per_million_tokens, "USD per M tokens");
    // Every numeric value of the report column cites its source.
    EXPECT_EQ(s.sources.size(), s.margin ? 15u : 14u);
  }
}

TEST(CostModelTest, Figure11InputsAreTheReportsNumbers) {
  const ScenarioFile file = load_scenario_file("report-figure11");
  ASSERT_EQ(file.options.size(), 4u);
  for (const Scenario& s : file.options) {
    SCOPED_TRACE(s.name);
    EXPECT_DOUBLE_EQ(s.life_years, 5);
    EXPECT_DOUBLE_EQ(s.cost_of_capital, 0.18);
    EXPECT_DOUBLE_EQ(s.power_usd_per_kwh, 0.087);
    EXPECT_DOUBLE_EQ(s.hours_per_month, 730);
    EXPECT_DOUBLE_EQ(s.utilisation, 0.8);
    EXPECT_DOUBLE_EQ(s.pue, 1.25);
    EXPECT_DOUBLE_EQ(s.colocation_excl_power_usd_per_kw_month, 253.5 - 63.5);
  }
  EXPECT_DOUBLE_EQ(file.options[0].capex_usd, 350000);
  EXPECT_DOUBLE_EQ(file.options[2].capex_usd, 2520000);
  EXPECT_DOUBLE_EQ(file.options[3].capex_usd, 6350000);
  EXPECT_FALSE(file.options[2].margin.has_value());
  ASSERT_TRUE(file.options[3].margin.has_value());
  EXPECT_DOUBLE_EQ(*file.options[3].margin, 0.6);
}

// The convention that reproduces the figure, against the ones that do not.
TEST(CostModelTest, AmortisationIsTheAnnuityPaymentLessInterest) {
  Scenario s = load_scenario_file("report-figure11").options[0];
  const CostBreakdown c = compute_cost(s);
  const double r = 0.18 / 12;
  const double annuity = 350000 * r / (1 - std::pow(1 + r, -60));
  EXPECT_NEAR(c.amortisation_usd_per_month + c.cost_of_capital_usd_per_month, annuity, 1e-6);
  EXPECT_GT(std::abs(c.amortisation_usd_per_month - 350000.0 / 60), 2000);  // not straight line
  // Without interest the amortisation is straight line.
  s.cost_of_capital = 0;
  const CostBreakdown free = compute_cost(s);
  EXPECT_DOUBLE_EQ(free.amortisation_usd_per_month, 350000.0 / 60);
  EXPECT_DOUBLE_EQ(free.cost_of_capital_usd_per_month, 0);
}

TEST(CostModelTest, ThroughputCountsEveryUnitAndJoulesIncludePue) {
  const ScenarioFile file = load_scenario_file("report-figure11");
  const CostBreakdown gpu = compute_cost(file.options[1]);
  EXPECT_EQ(gpu.chips_per_system, 8);
  EXPECT_EQ(gpu.concurrent_users_per_system, 256);
  EXPECT_DOUBLE_EQ(gpu.tokens_per_s_per_system, 7680);
  EXPECT_DOUBLE_EQ(gpu.joules_per_token_it, 10200.0 / 7680);
  EXPECT_DOUBLE_EQ(gpu.joules_per_token, 10200.0 * 1.25 / 7680);
  const CostBreakdown groq = compute_cost(file.options[2]);
  EXPECT_EQ(groq.chips_per_system, 576);
  EXPECT_DOUBLE_EQ(groq.joules_per_token_it, 230400.0 / 24000);  // 9.6 J
  EXPECT_DOUBLE_EQ(groq.tokens_per_month, 24000.0 * 3600 * 730);
}

TEST(CostModelTest, ScenarioBuiltInCodeIsChecked) {
  Scenario s = load_scenario_file("report-figure11").options[0];
  s.tokens_per_s_per_user = 0;
  testing::expect_error_naming([&] { compute_cost(s); }, "GPU low-latency",
                               {"tokens_per_s_per_user", "positive"});
  s = load_scenario_file("report-figure11").options[0];
  s.power_usd_per_kwh = -1;
  testing::expect_error_naming([&] { compute_cost(s); }, "GPU low-latency",
                               {"power_usd_per_kwh"});
  s = load_scenario_file("report-figure11").options[0];
  s.pue = 0.5;
  testing::expect_error_naming([&] { compute_cost(s); }, "GPU low-latency", {"pue"});
}

TEST(CostModelTest, TableAndJsonCarryEveryColumn) {
  const ScenarioFile file = load_scenario_file("report-figure11");
  const std::string table = render_cost_table(file.options);
  for (const char* text : {"GPU low-latency", "Groq at 60% margin", "USD per million tokens",
                           "capex amortisation (USD/month)", "3,638", "65,998", "58,409",
                           "300.9", "24,000", "5.20", "0.57", "1.94", "3.48", "60%"})
    EXPECT_NE(table.find(text), std::string::npos) << text << " not in:\n" << table;
  // Every line is as wide as the header: the columns line up.
  std::size_t width = table.find('\n');
  for (std::size_t at = 0; at < table.size();) {
    const std::size_t end = table.find('\n', at);
    EXPECT_EQ(end - at, width) << table.substr(at, end - at);
    at = end + 1;
  }

  const nlohmann::json j = cost_table_json(file);
  EXPECT_EQ(j["scenario"], "report-figure11");
  ASSERT_EQ(j["options"].size(), 4u);
  EXPECT_NEAR(j["options"][3]["costs"]["usd_per_million_tokens"].get<double>(), 3.48, 0.005);
  EXPECT_EQ(j["options"][1]["inputs"]["units_per_system"], 4);
  EXPECT_NE(j["options"][0]["sources"]["capex_usd"].get<std::string>().find("DIGEST.md"),
            std::string::npos);
  EXPECT_EQ(j["options"][3]["margin"], 0.6);
}

TEST(CostModelTest, FormatThousands) {
  EXPECT_EQ(format_thousands(58408.704, 0), "58,409");
  EXPECT_EQ(format_thousands(999.6, 0), "1,000");
  EXPECT_EQ(format_thousands(1234567.891, 2), "1,234,567.89");
  EXPECT_EQ(format_thousands(12.5, 1), "12.5");
  EXPECT_EQ(format_thousands(-1234.5, 1), "-1,234.5");
  EXPECT_EQ(format_thousands(-0.001, 2), "0.00");
  EXPECT_EQ(format_thousands(0, 0), "0");
}

// ---- Bad scenario files -------------------------------------------------------------------

// A valid file with one option; tests replace one line.
const char* kValid = R"(description: "test"
defaults:
  life_years: 5
  cost_of_capital: 0.18
  power_usd_per_kwh: 0.087
  hours_per_month: 730
  utilisation: 0.8
  pue: 1.25
  colocation_excl_power_usd_per_kw_month: 190
options:
  - name: "a"
    system: "8xH100"
    capex_usd: {value: 350000, source: "test"}
    system_power_kw: 10.2
    chips_per_unit: 8
    units_per_system: 1
    batch: 2
    pipeline_depth: 1
    tokens_per_s_per_user: 420
  - name: "b"
    system: "8xH100"
    capex_usd: 350000
    system_power_kw: 10.2
    chips_per_unit: 2
    units_per_system: 4
    batch: 64
    pipeline_depth: 1
    tokens_per_s_per_user: 30
)";

// kValid with the first occurrence of `from` replaced by `to`, written to a scratch file.
std::string write_scenario(const std::string& from, const std::string& to) {
  std::string text = kValid;
  if (!from.empty()) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
  }
  const std::string path = testing::scratch_dir("scenario") + "/bad.yaml";
  std::ofstream(path) << text;
  return path;
}

// Replacing the second option's (`b`) line `from`.
std::string write_scenario_b(const std::string& from, const std::string& to) {
  std::string text = kValid;
  const auto b = text.find("name: \"b\"");
  const auto at = text.find(from, b);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  const std::string path = testing::scratch_dir("scenario") + "/bad.yaml";
  std::ofstream(path) << text;
  return path;
}

void expect_bad(const std::string& path, const std::vector<std::string>& words) {
  testing::expect_error_naming([&] { load_scenario_file(path); }, path, words);
}

TEST(ScenarioTest, ValidFileLoadsWithDefaults) {
  const ScenarioFile f = load_scenario_file(write_scenario("", ""));
  ASSERT_EQ(f.options.size(), 2u);
  EXPECT_EQ(f.name, "bad");
  EXPECT_DOUBLE_EQ(f.options[1].pue, 1.25);
  EXPECT_EQ(f.options[1].units_per_system, 4);
  EXPECT_EQ(f.options[0].sources.at("capex_usd"), "test");
  EXPECT_EQ(f.options[1].sources.count("capex_usd"), 0u);
  // An option's own key wins over defaults.
  const ScenarioFile g =
      load_scenario_file(write_scenario_b("batch: 64", "batch: 64\n    pue: 1.5"));
  EXPECT_DOUBLE_EQ(g.options[0].pue, 1.25);
  EXPECT_DOUBLE_EQ(g.options[1].pue, 1.5);
}

TEST(ScenarioTest, ReportFileIsListed) {
  const auto names = scenario_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "report-figure11"), names.end());
  testing::expect_error_naming([] { load_scenario_file("no-such-scenario"); }, "no-such-scenario",
                               {"unknown scenario", "report-figure11"});
}

TEST(ScenarioTest, NegativePrice) {
  expect_bad(write_scenario("power_usd_per_kwh: 0.087", "power_usd_per_kwh: -0.087"),
             {"defaults.power_usd_per_kwh", "-0.087"});
  expect_bad(write_scenario_b("capex_usd: 350000", "capex_usd: -1"),
             {"options[1].capex_usd", "positive"});
  expect_bad(write_scenario("colocation_excl_power_usd_per_kw_month: 190",
                            "colocation_excl_power_usd_per_kw_month: -190"),
             {"defaults.colocation_excl_power_usd_per_kw_month"});
}

TEST(ScenarioTest, ZeroTokensPerSecond) {
  expect_bad(write_scenario_b("tokens_per_s_per_user: 30", "tokens_per_s_per_user: 0"),
             {"options[1].tokens_per_s_per_user", "positive"});
  expect_bad(write_scenario_b("batch: 64", "batch: 0"), {"options[1].batch"});
}

TEST(ScenarioTest, MissingKey) {
  expect_bad(write_scenario_b("    system_power_kw: 10.2\n", ""),
             {"options[1].system_power_kw", "missing"});
  expect_bad(write_scenario("  pue: 1.25\n", ""), {"options[0].pue", "missing"});
  expect_bad(write_scenario("  - name: \"a\"\n", "  - \n"), {"options[0].name", "missing"});
  expect_bad(write_scenario("options:", "choices:"), {"unknown key 'choices'"});
}

TEST(ScenarioTest, UnknownKey) {
  expect_bad(write_scenario_b("batch: 64", "batch: 64\n    batch_size: 64"),
             {"options[1].batch_size", "unknown"});
  expect_bad(write_scenario("  pue: 1.25", "  pue: 1.25\n  PUE: 1.25"), {"defaults.PUE"});
  expect_bad(write_scenario("{value: 350000, source: \"test\"}",
                            "{value: 350000, soruce: \"test\"}"),
             {"options[0].capex_usd.soruce"});
}

TEST(ScenarioTest, WrongType) {
  expect_bad(write_scenario_b("batch: 64", "batch: sixty-four"),
             {"options[1].batch", "sixty-four"});
  expect_bad(write_scenario_b("batch: 64", "batch: 6.4"), {"options[1].batch", "integer"});
  expect_bad(write_scenario("pue: 1.25", "pue: \"1.25\""), {"defaults.pue", "quoted"});
  expect_bad(write_scenario("pue: 1.25", "pue: [1.25]"), {"defaults.pue", "list"});
  expect_bad(write_scenario("system: \"8xH100\"", "system: [8]"), {"options[0].system"});
}

TEST(ScenarioTest, OutOfRange) {
  expect_bad(write_scenario("pue: 1.25", "pue: 0.9"), {"defaults.pue", "at least 1"});
  expect_bad(write_scenario("utilisation: 0.8", "utilisation: 80"), {"defaults.utilisation"});
  expect_bad(write_scenario("hours_per_month: 730", "hours_per_month: 7300"),
             {"defaults.hours_per_month"});
  expect_bad(write_scenario_b("batch: 64", "batch: 64\n    margin: 1"), {"options[1].margin"});
  expect_bad(write_scenario_b("chips_per_unit: 2", "chips_per_unit: 16777216"),
             {"options[1]", "chips_per_unit x units_per_system"});
}

TEST(ScenarioTest, SourcesAndStructure) {
  expect_bad(write_scenario("{value: 350000, source: \"test\"}", "{value: 350000}"),
             {"options[0].capex_usd", "source"});
  expect_bad(write_scenario("{value: 350000, source: \"test\"}",
                            "{value: 350000, source: \"  \"}"),
             {"options[0].capex_usd.source", "empty"});
  expect_bad(write_scenario_b("name: \"b\"", "name: \"a\""), {"options[1].name", "options[0]"});
  const std::string empty = testing::scratch_dir("scenario") + "/empty-options.yaml";
  std::ofstream(empty) << "options: []\n";
  expect_bad(empty, {"options", "non-empty"});
  std::ofstream(empty) << "options: 3\n";
  expect_bad(empty, {"options", "non-empty"});
  const std::string blank = testing::scratch_dir("scenario-blank") + "/blank.yaml";
  std::ofstream(blank) << "";
  expect_bad(blank, {"empty"});
}

}  // namespace
}  // namespace lockstep::plan
