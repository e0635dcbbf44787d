// Strict reading of hand-written YAML files (the model catalog, the hardware presets): a mapping
// lists the keys it allows and the keys it requires, every scalar is read as exactly one type,
// and every error is one sentence naming the file and the dotted key ("rope_scaling.factor",
// "chip.clock_hz"). Errors are lockstep::Error.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace lockstep {

// Default bound on any integer read (widths, counts, lengths): larger is a typo, not a model.
inline constexpr std::int64_t kMaxYamlInteger = std::int64_t{1} << 24;

// Parses a YAML file whose root must be present. `what` names the file's kind in errors
// ("catalog file", "system preset"): "x.yaml: cannot open the catalog file",
// "x.yaml: not valid YAML at line 3 (...)", "x.yaml: the catalog file is empty".
YAML::Node load_yaml_file(const std::string& path, const std::string& what);

// Typed reads of one scalar node. `file` and `key` (dotted, e.g. "chip.clock_hz") name it in
// errors. Quoted scalars ("64") are strings, never numbers or booleans.
std::string read_yaml_text(const YAML::Node& node, const std::string& file, const std::string& key);
// A decimal integer in [1, max].
std::int64_t read_yaml_positive_int(const YAML::Node& node, const std::string& file,
                                    const std::string& key, std::int64_t max = kMaxYamlInteger);
// A finite number in (0, max], or in [0, max] when `allow_zero`.
double read_yaml_number(const YAML::Node& node, const std::string& file, const std::string& key,
                        double max = std::numeric_limits<double>::max(), bool allow_zero = false);
bool read_yaml_boolean(const YAML::Node& node, const std::string& file, const std::string& key);

// One YAML mapping: checks on construction that it is a mapping, that every key is allowed and
// appears once, and that every required key is present. `prefix` is the mapping's dotted path
// with a trailing dot ("rope_scaling.", "" for the root) and is put before keys in messages.
class KeyReader {
 public:
  KeyReader(YAML::Node map, std::string file, std::string prefix, std::set<std::string> allowed,
            std::set<std::string> required);

  bool has(const std::string& key) const { return static_cast<bool>(map_[key]); }
  YAML::Node node(const std::string& key) const { return map_[key]; }
  // The dotted name of `key` for messages: prefix + key.
  std::string name(const std::string& key) const { return prefix_ + key; }
  const std::string& file() const { return file_; }

  std::string text(const std::string& key) const;
  std::int64_t positive_int(const std::string& key, std::int64_t max = kMaxYamlInteger) const;
  double positive_number(const std::string& key) const;
  bool boolean(const std::string& key) const;
  // A string that must be one of `choices`.
  std::string one_of(const std::string& key, const std::vector<std::string>& choices) const;

 private:
  YAML::Node map_;
  std::string file_;
  std::string prefix_;
};

// A published constant: `node` (named `key` in `file`) must be a mapping {value, source} or
// {value, assumption} whose text is not blank. Returns the value node; `why` receives the text,
// prefixed "assumption: " for an assumption.
YAML::Node read_sourced_value(const YAML::Node& node, const std::string& file, const std::string& key,
                              std::string& why);
// The same for section[key], when the text is not needed.
YAML::Node read_sourced_value(const KeyReader& section, const std::string& key);

}  // namespace lockstep
