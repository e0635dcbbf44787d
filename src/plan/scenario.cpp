#include "plan/scenario.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <set>

#include "core/config_files.h"
#include "core/error.h"
#include "core/yaml_keys.h"

namespace lockstep::plan {
namespace {

// Larger than any price, power or rate: a typo, not a deployment.
constexpr double kMaxNumber = 1e15;
// Hours in a month cannot exceed 31 x 24; a life of more than 100 years is a typo.
constexpr double kMaxHoursPerMonth = 744;
constexpr double kMaxLifeYears = 100;

// What a numeric key may hold.
enum class Range {
  kPositive,  // (0, inf)
  kZeroOk,    // [0, inf): prices
  kFraction,  // (0, 1]: utilisation
  kRate,      // [0, 1]: cost of capital per year
  kPue,       // [1, 10]: a PUE below 1 is impossible, above 10 a typo
  kMargin,    // [0, 1)
};

struct NumberKey {
  const char* key;
  double Scenario::*member;
  Range range;
  double max = kMaxNumber;  // for kPositive and kZeroOk
};

struct IntKey {
  const char* key;
  int Scenario::*member;
};

// One source of truth for the keys, in the order of Figure 11's rows.
constexpr NumberKey kNumberKeys[] = {
    {"capex_usd", &Scenario::capex_usd, Range::kPositive},
    {"life_years", &Scenario::life_years, Range::kPositive, kMaxLifeYears},
    {"cost_of_capital", &Scenario::cost_of_capital, Range::kRate},
    {"power_usd_per_kwh", &Scenario::power_usd_per_kwh, Range::kZeroOk},
    {"hours_per_month", &Scenario::hours_per_month, Range::kPositive, kMaxHoursPerMonth},
    {"utilisation", &Scenario::utilisation, Range::kFraction},
    {"pue", &Scenario::pue, Range::kPue},
    {"colocation_excl_power_usd_per_kw_month", &Scenario::colocation_excl_power_usd_per_kw_month,
     Range::kZeroOk},
    {"system_power_kw", &Scenario::system_power_kw, Range::kPositive},
    {"tokens_per_s_per_user", &Scenario::tokens_per_s_per_user, Range::kPositive},
};

constexpr IntKey kIntKeys[] = {
    {"chips_per_unit", &Scenario::chips_per_unit},
    {"units_per_system", &Scenario::units_per_system},
    {"batch", &Scenario::batch},
    {"pipeline_depth", &Scenario::pipeline_depth},
};

constexpr const char* kMarginKey = "margin";

std::set<std::string> numeric_keys() {
  std::set<std::string> keys{kMarginKey};
  for (const auto& k : kNumberKeys) keys.insert(k.key);
  for (const auto& k : kIntKeys) keys.insert(k.key);
  return keys;
}

// A key's value node: the node itself when it is a scalar, else the `value` of a
// {value, source} / {value, assumption} mapping, whose text goes to `source`.
YAML::Node value_node(const YAML::Node& node, const std::string& file, const std::string& key,
                      std::string& source) {
  return node.IsMap() ? read_sourced_value(node, file, key, source) : node;
}

double read_in_range(const YAML::Node& v, const std::string& file, const std::string& key,
                     Range range, double max = kMaxNumber) {
  switch (range) {
    case Range::kPositive:
      return read_yaml_number(v, file, key, max);
    case Range::kZeroOk:
      return read_yaml_number(v, file, key, max, true);
    case Range::kFraction:
      return read_yaml_number(v, file, key, 1.0);
    case Range::kRate:
      return read_yaml_number(v, file, key, 1.0, true);
    case Range::kPue: {
      const double pue = read_yaml_number(v, file, key, 10.0);
      if (pue < 1)
        fail("{}: key '{}' is {} (a PUE is facility power over IT power, so at least 1)", file,
             key, v.Scalar());
      return pue;
    }
    case Range::kMargin: {
      const double m = read_yaml_number(v, file, key, 1.0, true);
      if (m >= 1) fail("{}: key '{}' is {} (must be below 1)", file, key, v.Scalar());
      return m;
    }
  }
  return 0;
}

// Option `index` of the file, with `defaults` (possibly null) filling the keys it does not set.
Scenario read_option(const YAML::Node& node, const YAML::Node& defaults, const std::string& file,
                     std::size_t index) {
  const std::string prefix = fmt::format("options[{}].", index);
  std::set<std::string> allowed = numeric_keys();
  allowed.insert({"name", "system", "description"});
  const KeyReader r(node, file, prefix, allowed, {"name"});

  Scenario s;
  s.name = r.text("name");
  if (s.name.find_first_not_of(" \t") == std::string::npos)
    fail("{}: key '{}name' is empty", file, prefix);
  if (r.has("description")) s.description = r.text("description");

  // The node for `key` and its dotted name: the option's own, else defaults', else missing.
  auto find = [&](const std::string& key) -> std::pair<YAML::Node, std::string> {
    if (r.has(key)) return {r.node(key), prefix + key};
    if (defaults && defaults[key]) return {defaults[key], "defaults." + key};
    fail("{}: required key '{}{}' is missing (set it in the option or under 'defaults')", file,
         prefix, key);
  };

  {
    const auto [n, name] = find("system");
    s.system = read_yaml_text(n, file, name);
  }
  for (const auto& k : kNumberKeys) {
    const auto [n, name] = find(k.key);
    std::string source;
    const YAML::Node v = value_node(n, file, name, source);
    s.*k.member = read_in_range(v, file, name, k.range, k.max);
    if (!source.empty()) s.sources[k.key] = source;
  }
  for (const auto& k : kIntKeys) {
    const auto [n, name] = find(k.key);
    std::string source;
    const YAML::Node v = value_node(n, file, name, source);
    s.*k.member = static_cast<int>(read_yaml_positive_int(v, file, name));
    if (!source.empty()) s.sources[k.key] = source;
  }
  if (r.has(kMarginKey) || (defaults && defaults[kMarginKey])) {
    const auto [n, name] = find(kMarginKey);
    std::string source;
    const YAML::Node v = value_node(n, file, name, source);
    s.margin = read_in_range(v, file, name, Range::kMargin);
    if (!source.empty()) s.sources[kMarginKey] = source;
  }
  return s;
}

}  // namespace

ScenarioFile load_scenario_file(const std::string& name_or_path) {
  const ConfigFile found = find_config_file("scenarios", name_or_path, "scenario");
  const std::string& file = found.path;
  const YAML::Node root = load_yaml_file(file, "scenario file");
  const KeyReader r(root, file, "", {"description", "defaults", "options"}, {"options"});

  ScenarioFile out;
  out.path = file;
  out.name = found.name;
  if (r.has("description")) out.description = r.text("description");

  YAML::Node defaults;
  if (r.has("defaults")) {
    std::set<std::string> allowed = numeric_keys();
    allowed.insert("system");
    const KeyReader d(r.node("defaults"), file, "defaults.", allowed, {});
    defaults = r.node("defaults");
  }

  const YAML::Node options = r.node("options");
  if (!options.IsSequence() || options.size() == 0)
    fail("{}: key 'options' must be a non-empty list of scenarios", file);
  // A table of more columns than this is not read by anyone.
  constexpr std::size_t kMaxOptions = 64;
  if (options.size() > kMaxOptions)
    fail("{}: key 'options' has {} scenarios (at most {})", file, options.size(), kMaxOptions);
  for (std::size_t i = 0; i < options.size(); ++i) {
    Scenario s = read_option(options[i], defaults, file, i);
    check_scenario(s, fmt::format("{}: options[{}]", file, i));
    for (std::size_t j = 0; j < out.options.size(); ++j)
      if (out.options[j].name == s.name)
        fail("{}: key 'options[{}].name' is '{}', the same as options[{}].name", file, i, s.name,
             j);
    out.options.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> scenario_names() { return config_names("scenarios"); }

void check_scenario(const Scenario& s, const std::string& where) {
  auto bad = [&](const char* key, double v, const std::string& must) {
    fail("{}: {} must be {}, got {}", where, key, must, v);
  };
  auto finite = [](double v) { return std::isfinite(v); };
  for (const auto& k : kNumberKeys) {
    const double v = s.*k.member;
    if (!finite(v)) bad(k.key, v, "a finite number");
    switch (k.range) {
      case Range::kPositive:
        if (!(v > 0)) bad(k.key, v, "positive");
        if (v > k.max) bad(k.key, v, fmt::format("at most {}", k.max));
        break;
      case Range::kZeroOk:
        if (!(v >= 0)) bad(k.key, v, "zero or more");
        if (v > k.max) bad(k.key, v, fmt::format("at most {}", k.max));
        break;
      case Range::kFraction:
        if (!(v > 0 && v <= 1)) bad(k.key, v, "in (0, 1]");
        break;
      case Range::kRate:
        if (!(v >= 0 && v <= 1)) bad(k.key, v, "in [0, 1]");
        break;
      case Range::kPue:
        if (!(v >= 1 && v <= 10)) bad(k.key, v, "in [1, 10]");
        break;
      case Range::kMargin:
        break;
    }
  }
  for (const auto& k : kIntKeys)
    if (s.*k.member <= 0) bad(k.key, s.*k.member, "positive");
  if (s.margin && !(*s.margin >= 0 && *s.margin < 1)) bad(kMarginKey, *s.margin, "in [0, 1)");
  // The products cost_model.h forms stay far from overflow: no system has 16 M chips or users.
  const std::int64_t chips = std::int64_t{s.chips_per_unit} * s.units_per_system;
  if (chips > kMaxYamlInteger)
    fail("{}: chips_per_unit x units_per_system must be at most {}, got {}", where,
         kMaxYamlInteger, chips);
  const std::int64_t per_unit = std::int64_t{s.batch} * s.pipeline_depth;
  if (per_unit > kMaxYamlInteger || per_unit * s.units_per_system > kMaxYamlInteger)
    fail("{}: batch x pipeline_depth x units_per_system must be at most {}", where,
         kMaxYamlInteger);
}

}  // namespace lockstep::plan
