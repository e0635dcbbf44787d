#include "core/yaml_keys.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace lockstep {
namespace {

// The node as a scalar, or an error saying what it is instead.
const std::string& scalar(const YAML::Node& node, const std::string& file, const std::string& key,
                          const char* expected) {
  if (!node || !node.IsScalar())
    fail("{}: key '{}' must be {}, not a {}", file, key, expected,
         !node               ? "missing value"
         : node.IsMap()      ? "mapping"
         : node.IsSequence() ? "list"
                             : "null");
  return node.Scalar();
}

// A quoted scalar ("64") carries the non-specific tag "!": it is a string, whatever it spells.
bool quoted(const YAML::Node& node) { return node.Tag() == "!"; }

[[noreturn]] void wrong(const YAML::Node& node, const std::string& file, const std::string& key,
                        const char* expected) {
  if (quoted(node))
    fail("{}: key '{}' must be {}, got the quoted string \"{}\"", file, key, expected,
         node.Scalar());
  fail("{}: key '{}' must be {}, got '{}'", file, key, expected, node.Scalar());
}

}  // namespace

YAML::Node load_yaml_file(const std::string& path, const std::string& what) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    fail("{}: cannot open the {}", path, what);
  } catch (const YAML::Exception& e) {
    fail("{}: not valid YAML at line {} ({})", path, e.mark.line + 1, e.msg);
  }
  if (!root || root.IsNull()) fail("{}: the {} is empty", path, what);
  return root;
}

std::string read_yaml_text(const YAML::Node& node, const std::string& file,
                           const std::string& key) {
  return scalar(node, file, key, "a string");
}

std::int64_t read_yaml_positive_int(const YAML::Node& node, const std::string& file,
                                    const std::string& key, std::int64_t max) {
  const std::string& s = scalar(node, file, key, "a positive integer");
  const bool digits = !s.empty() && s.size() <= 18 &&
                      std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (quoted(node) || !digits) wrong(node, file, key, "a positive integer");
  const std::int64_t v = std::stoll(s);
  if (v <= 0 || v > max) fail("{}: key '{}' is {} (must be between 1 and {})", file, key, v, max);
  return v;
}

double read_yaml_number(const YAML::Node& node, const std::string& file, const std::string& key,
                        double max, bool allow_zero) {
  const char* expected = allow_zero ? "a number >= 0" : "a positive number";
  const std::string& s = scalar(node, file, key, expected);
  if (quoted(node) || s.empty()) wrong(node, file, key, expected);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v))
    wrong(node, file, key, expected);
  if (allow_zero ? !(v >= 0) : !(v > 0))
    fail("{}: key '{}' is {} (must be {})", file, key, s, allow_zero ? "zero or more" : "positive");
  if (v > max) fail("{}: key '{}' is {} (must be at most {})", file, key, s, max);
  return v;
}

bool read_yaml_boolean(const YAML::Node& node, const std::string& file, const std::string& key) {
  const std::string& s = scalar(node, file, key, "true or false");
  if (!quoted(node) && s == "true") return true;
  if (!quoted(node) && s == "false") return false;
  wrong(node, file, key, "true or false");
}

KeyReader::KeyReader(YAML::Node map, std::string file, std::string prefix,
                     std::set<std::string> allowed, std::set<std::string> required)
    : map_(std::move(map)), file_(std::move(file)), prefix_(std::move(prefix)) {
  const std::string where =
      prefix_.empty() ? std::string("the file") : "'" + prefix_.substr(0, prefix_.size() - 1) + "'";
  if (!map_.IsMap()) fail("{}: {} must be a mapping of keys to values", file_, where);
  std::set<std::string> seen;
  for (const auto& kv : map_) {
    if (!kv.first.IsScalar()) fail("{}: a key in {} is not a plain name", file_, where);
    const std::string key = kv.first.Scalar();
    if (!allowed.count(key))
      fail("{}: unknown key '{}{}' (allowed: {})", file_, prefix_, key, fmt::join(allowed, ", "));
    if (!seen.insert(key).second) fail("{}: key '{}{}' appears twice", file_, prefix_, key);
  }
  for (const auto& key : required)
    if (!seen.count(key)) fail("{}: required key '{}{}' is missing", file_, prefix_, key);
}

std::string KeyReader::text(const std::string& key) const {
  return read_yaml_text(map_[key], file_, name(key));
}

std::int64_t KeyReader::positive_int(const std::string& key, std::int64_t max) const {
  return read_yaml_positive_int(map_[key], file_, name(key), max);
}

double KeyReader::positive_number(const std::string& key) const {
  return read_yaml_number(map_[key], file_, name(key));
}

bool KeyReader::boolean(const std::string& key) const {
  return read_yaml_boolean(map_[key], file_, name(key));
}

std::string KeyReader::one_of(const std::string& key,
                              const std::vector<std::string>& choices) const {
  const std::string s = text(key);
  if (std::find(choices.begin(), choices.end(), s) == choices.end())
    fail("{}: key '{}' is '{}' (must be one of: {})", file_, name(key), s,
         fmt::join(choices, ", "));
  return s;
}

YAML::Node read_sourced_value(const YAML::Node& node, const std::string& file, const std::string& key,
                              std::string& why) {
  if (!node.IsMap())
    fail("{}: key '{}' must be a mapping {{value, source}} or {{value, assumption}}", file, key);
  const KeyReader r(node, file, key + ".", {"value", "source", "assumption"}, {"value"});
  if (r.has("source") == r.has("assumption"))
    fail(
        "{}: key '{}' needs exactly one of 'source' (where the value is published) or "
        "'assumption' (why this value)",
        file, key);
  const std::string why_key = r.has("source") ? "source" : "assumption";
  why = r.text(why_key);
  if (why.find_first_not_of(" \t\r\n") == std::string::npos) fail("{}: key '{}' is empty", file, r.name(why_key));
  if (why_key == "assumption") why = "assumption: " + why;
  return r.node("value");
}

YAML::Node read_sourced_value(const KeyReader& section, const std::string& key) {
  std::string why;
  return read_sourced_value(section.node(key), section.file(), section.name(key), why);
}

}  // namespace lockstep
