#include "lpu/arch/system_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <map>
#include <set>

#include "core/config_files.h"
#include "core/error.h"
#include "core/yaml_keys.h"

namespace lockstep::lpu {
namespace {

constexpr const char* kKind = "systems";
constexpr int kMaxStreams = 32;               // program.h encodes a stream index in 5 bits
constexpr int kMaxPositions = 255;            // Instruction::reach is one byte
constexpr int kDefaultSliceAddressBits = 13;  // v1: 8192 vectors per slice
constexpr std::int64_t kMaxDelay = 1000;      // cycles; more is a typo
constexpr double kPeakTolerance = 0.03;       // published peaks are rounded figures

// The integer fields of a struct (ChipConfig, SystemTopology) with sanity bounds, in [1, max] or
// [0, max] when zero is allowed; the rules in check_rules and check_topology bound them further.
template <typename T>
struct IntField {
  const char* key;
  int T::*member;
  std::int64_t max;
  bool allow_zero = false;
};
constexpr IntField<ChipConfig> kIntFields[] = {
    {"superlanes", &ChipConfig::superlanes, 256},
    {"lanes_per_superlane", &ChipConfig::lanes_per_superlane, 256},
    {"vector_bytes", &ChipConfig::vector_bytes, 65536},
    {"mem_slices_per_hemisphere", &ChipConfig::mem_slices_per_hemisphere, kMaxPositions},
    {"banks_per_slice", &ChipConfig::banks_per_slice, 64},
    {"vectors_per_bank", &ChipConfig::vectors_per_bank, 1 << 24},
    {"streams_per_direction", &ChipConfig::streams_per_direction, kMaxStreams},
    {"mxm_planes_per_hemisphere", &ChipConfig::mxm_planes_per_hemisphere, kMaxPositions},
    {"mxm_plane_rows", &ChipConfig::mxm_plane_rows, 65536},
    {"mxm_load_streams", &ChipConfig::mxm_load_streams, kMaxStreams},
    {"mxm_accumulator_rows", &ChipConfig::mxm_accumulator_rows, 1 << 24},
    {"vxm_alus", &ChipConfig::vxm_alus, 1024},
    {"sxm_queues_per_hemisphere", &ChipConfig::sxm_queues_per_hemisphere, 64},
};

// The floating-point fields of a struct: (0, max], or [0, max] when zero means "none".
template <typename T>
struct NumberField {
  const char* key;
  double T::*member;
  double max;
  bool allow_zero;
};
constexpr NumberField<ChipConfig> kNumberFields[] = {
    {"clock_hz", &ChipConfig::clock_hz, 100e9, false},
    {"process_nm", &ChipConfig::process_nm, 1000, false},
    {"power_w", &ChipConfig::power_w, 100e3, false},
    {"published_peak_int8_ops", &ChipConfig::published_peak_int8_ops, 1e21, true},
    {"published_peak_fp16_flops", &ChipConfig::published_peak_fp16_flops, 1e21, true},
};

// The fields of the optional `system:` section.
constexpr std::int64_t kMaxChips = 1 << 20;
constexpr IntField<SystemTopology> kTopologyIntFields[] = {
    {"chips", &SystemTopology::chips, kMaxChips, true},
    {"spare_chips", &SystemTopology::spare_chips, kMaxChips, true},
    {"chips_per_node", &SystemTopology::chips_per_node, 1024},
    {"nodes_per_rack", &SystemTopology::nodes_per_rack, 1024},
    {"racks", &SystemTopology::racks, 1 << 16},
    {"sync_domain_chips", &SystemTopology::sync_domain_chips, kMaxChips},
    {"local_links", &SystemTopology::local_links, 1024, true},
    {"global_links", &SystemTopology::global_links, 1024, true},
    {"lanes_per_link", &SystemTopology::lanes_per_link, 1024},
    {"link_latency_cycles", &SystemTopology::link_latency_cycles, 1 << 20},
    {"flit_payload_bytes", &SystemTopology::flit_payload_bytes, 65536},
    {"flit_overhead_bytes", &SystemTopology::flit_overhead_bytes, 65536, true},
};
constexpr NumberField<SystemTopology> kTopologyNumberFields[] = {
    {"lane_bits_per_s", &SystemTopology::lane_bits_per_s, 1e15, false},
    {"hop_latency_ns", &SystemTopology::hop_latency_ns, 1e9, false},
    {"ethernet_latency_ns", &SystemTopology::ethernet_latency_ns, 1e12, true},
    {"ethernet_jitter_median_ns", &SystemTopology::ethernet_jitter_median_ns, 1e12, true},
    {"ethernet_jitter_sigma", &SystemTopology::ethernet_jitter_sigma, 100, true},
};

// The informational facts: no field of their own, only cross-checks.
struct FactField {
  const char* key;
  double max;
  bool integer;
};
constexpr FactField kFactFields[] = {
    {"die_area_mm2", 1e6, false},
    {"transistors", 1e15, false},
    {"sram_bytes", 1e15, true},
    {"slice_address_bits", 32, true},
    {"sram_bandwidth_bytes_per_cycle", 1e12, true},
    {"stream_bandwidth_bytes_per_cycle", 1e12, true},
    {"mxm_weight_install_cycles_max", 1e6, true},
    {"instruction_queues", 1e6, true},
    {"c2c_links", 1e4, true},
    {"c2c_lanes_per_link", 1e4, true},
    {"c2c_lane_bits_per_s", 1e15, false},
    {"c2c_bandwidth_bytes_per_s", 1e18, false},
    {"provisioned_power_w", 1e6, false},
};

using Facts = std::map<std::string, double>;  // informational key -> value

struct ParsedSystem {
  SystemConfig system;
  Facts facts;
};

template <typename T, std::size_t I, std::size_t N>
std::set<std::string> field_keys(const IntField<T> (&ints)[I], const NumberField<T> (&numbers)[N]) {
  std::set<std::string> keys;
  for (const auto& f : ints) keys.insert(f.key);
  for (const auto& f : numbers) keys.insert(f.key);
  return keys;
}

std::set<std::string> delay_keys() {
  std::set<std::string> keys;
  for (int i = 0; i < kDelayClassCount; ++i)
    keys.insert(std::string(delay_class_name(static_cast<DelayClass>(i))));
  return keys;
}

std::set<std::string> fact_keys() {
  std::set<std::string> keys;
  for (const auto& f : kFactFields) keys.insert(f.key);
  return keys;
}


// Reads every field of `out` from `section` (whose keys are exactly the fields').
template <typename T, std::size_t I, std::size_t N>
void read_fields(const KeyReader& section, const IntField<T> (&ints)[I],
                 const NumberField<T> (&numbers)[N], T& out) {
  for (const auto& f : ints) {
    const YAML::Node v = read_sourced_value(section, f.key);
    const bool zero = f.allow_zero && v.IsScalar() && v.Scalar() == "0" && v.Tag() != "!";
    out.*f.member = zero ? 0
                         : static_cast<int>(read_yaml_positive_int(v, section.file(),
                                                                   section.name(f.key), f.max));
  }
  for (const auto& f : numbers)
    out.*f.member = read_yaml_number(read_sourced_value(section, f.key), section.file(), section.name(f.key),
                                     f.max, f.allow_zero);
}

// The wiring rules of `system:` (system_config.h), with the chip it is made of.
void check_topology(const SystemTopology& t, const ChipConfig& c, const std::string& file) {
  const std::int64_t physical = std::int64_t{t.racks} * t.nodes_per_rack * t.chips_per_node;
  if (std::int64_t{t.chips} + t.spare_chips != physical)
    fail(
        "{}: system.chips + system.spare_chips is {} + {} = {}, but system.racks x "
        "system.nodes_per_rack x system.chips_per_node is {} x {} x {} = {}",
        file, t.chips, t.spare_chips, std::int64_t{t.chips} + t.spare_chips, t.racks,
        t.nodes_per_rack, t.chips_per_node, physical);
  if (t.chips == 0) fail("{}: system.chips is 0: a system needs at least one active chip", file);
  if (t.local_links != t.chips_per_node - 1)
    fail(
        "{}: system.local_links is {}, but the chips of a node are all-to-all: "
        "system.chips_per_node - 1 = {}",
        file, t.local_links, t.chips_per_node - 1);
  const std::int64_t node_ports = std::int64_t{t.chips_per_node} * t.global_links;
  if ((t.nodes_per_rack > 1 || t.racks > 1) && node_ports < t.nodes_per_rack - 1 + (t.racks > 1))
    fail(
        "{}: system.global_links is {}: a node's {} global ports cannot reach the other {} nodes "
        "of its rack{}",
        file, t.global_links, node_ports, t.nodes_per_rack - 1,
        t.racks > 1 ? " and the other racks" : "");
  const std::int64_t rack_ports = t.nodes_per_rack * (node_ports - (t.nodes_per_rack - 1));
  if (t.racks > 1 && rack_ports < t.racks - 1)
    fail(
        "{}: system.racks is {}, but a rack has only {} global ports left after its own nodes "
        "(system.global_links = {}) to reach the other {} racks",
        file, t.racks, rack_ports, t.global_links, t.racks - 1);
  if (t.sync_domain_chips % t.chips_per_rack() != 0 && t.sync_domain_chips < physical)
    fail(
        "{}: system.sync_domain_chips is {}, neither a whole number of racks of {} chips nor the "
        "whole system of {}",
        file, t.sync_domain_chips, t.chips_per_rack(), physical);
  if (t.flit_payload_bytes != c.vector_bytes)
    fail(
        "{}: system.flit_payload_bytes is {} but a flit carries one vector: chip.vector_bytes = {}",
        file, t.flit_payload_bytes, c.vector_bytes);
  if (t.hop_latency_ns * c.clock_hz / 1e9 < t.link_latency_cycles)
    fail(
        "{}: system.hop_latency_ns is {} ({:.0f} cycles at chip.clock_hz), less than "
        "system.link_latency_cycles ({}): a hop includes its link",
        file, t.hop_latency_ns, t.hop_latency_ns * c.clock_hz / 1e9, t.link_latency_cycles);
}

// 2^bits, or the v1 default when the file does not say.
std::int64_t slice_vector_limit(const Facts& facts) {
  const auto it = facts.find("slice_address_bits");
  const int bits = it == facts.end() ? kDefaultSliceAddressBits : static_cast<int>(it->second);
  return std::int64_t{1} << bits;
}

// The rules every chip must obey, whatever the file or the overrides say.
void check_rules(const ChipConfig& c, const Facts& facts, const std::string& file) {
  if (c.vector_bytes != c.superlanes * c.lanes_per_superlane)
    fail(
        "{}: chip.vector_bytes is {}, but chip.superlanes x chip.lanes_per_superlane is {} x {} "
        "= {}",
        file, c.vector_bytes, c.superlanes, c.lanes_per_superlane,
        c.superlanes * c.lanes_per_superlane);
  if (c.vector_bytes % 4 != 0)
    fail("{}: chip.vector_bytes is {}, which is not a whole number of 4-byte f32 lanes", file,
         c.vector_bytes);
  if (c.mxm_plane_rows != c.vector_bytes)
    fail(
        "{}: chip.mxm_plane_rows is {} but must equal chip.vector_bytes ({}): an int8 input "
        "vector holds one element per weight row",
        file, c.mxm_plane_rows, c.vector_bytes);
  if (c.mxm_load_streams > c.streams_per_direction)
    fail("{}: chip.mxm_load_streams is {}, more than chip.streams_per_direction ({})", file,
         c.mxm_load_streams, c.streams_per_direction);
  const int positions = 2 * (c.mxm_planes_per_hemisphere + 1 + c.mem_slices_per_hemisphere) + 1;
  if (positions > kMaxPositions)
    fail(
        "{}: chip.mxm_planes_per_hemisphere ({}) and chip.mem_slices_per_hemisphere ({}) make "
        "{} slice positions, more than the {} a one-byte Instruction::reach can name",
        file, c.mxm_planes_per_hemisphere, c.mem_slices_per_hemisphere, positions, kMaxPositions);
  const std::int64_t per_slice = std::int64_t{c.banks_per_slice} * c.vectors_per_bank;
  if (per_slice > slice_vector_limit(facts))
    fail(
        "{}: chip.banks_per_slice x chip.vectors_per_bank is {} vectors per slice, more than the "
        "{} that informational.slice_address_bits ({}) can address",
        file, per_slice, slice_vector_limit(facts),
        facts.count("slice_address_bits")
            ? fmt::format("{}", facts.at("slice_address_bits"))
            : fmt::format("{}, the default", kDefaultSliceAddressBits));
}

// Cycles to load every plane's weights and install them: the planes of a hemisphere share the
// streams flowing towards them.
std::int64_t weight_install_cycles(const ChipConfig& c) {
  const std::int64_t rows = std::int64_t{c.mxm_planes_per_hemisphere} * c.mxm_plane_rows;
  const std::int64_t streams = std::min<std::int64_t>(
      c.streams_per_direction, std::int64_t{c.mxm_planes_per_hemisphere} * c.mxm_load_streams);
  return (rows + streams - 1) / streams + c.delay(DelayClass::MxmInstallWeights);
}

// int8 ops/s the MXM fields imply: 2 ops per MAC, planes x rows x vector_bytes MACs per cycle.
double implied_int8_ops(const ChipConfig& c) {
  return 2.0 * 2 * c.mxm_planes_per_hemisphere * c.mxm_plane_rows * c.vector_bytes * c.clock_hz;
}

void check_equal(double stated, double implied, const std::string& file, const std::string& key,
                 const std::string& formula) {
  if (stated != implied)
    fail("{}: {} is {}, but the chip fields give {} ({})", file, key, stated, implied, formula);
}

void check_peak(double published, double implied, const std::string& file, const std::string& key,
                const std::string& formula) {
  if (published == 0) return;  // none published
  if (std::abs(published / implied - 1) > kPeakTolerance)
    fail("{}: {} is {:.4g}, more than {}% from the {:.4g} the chip fields imply ({})", file, key,
         published, kPeakTolerance * 100, implied, formula);
}

// The published (or targeted) facts against what the fields imply.
void cross_check(const ChipConfig& c, const Facts& facts, const std::string& file) {
  const auto has = [&](const char* key) { return facts.count(key) != 0; };
  if (has("sram_bytes"))
    check_equal(
        facts.at("sram_bytes"), static_cast<double>(c.sram_bytes()), file,
        "informational.sram_bytes",
        "2 x mem_slices_per_hemisphere x banks_per_slice x vectors_per_bank x vector_bytes");
  if (has("sram_bandwidth_bytes_per_cycle"))
    check_equal(facts.at("sram_bandwidth_bytes_per_cycle"),
                2.0 * c.mem_slices_per_hemisphere * c.banks_per_slice * c.vector_bytes, file,
                "informational.sram_bandwidth_bytes_per_cycle",
                "2 x mem_slices_per_hemisphere x banks_per_slice x vector_bytes");
  if (has("stream_bandwidth_bytes_per_cycle"))
    check_equal(facts.at("stream_bandwidth_bytes_per_cycle"),
                2.0 * c.streams_per_direction * c.vector_bytes, file,
                "informational.stream_bandwidth_bytes_per_cycle",
                "2 x streams_per_direction x vector_bytes");
  if (has("mxm_weight_install_cycles_max") &&
      weight_install_cycles(c) > facts.at("mxm_weight_install_cycles_max"))
    fail(
        "{}: loading and installing every plane's weights takes {} cycles, more than "
        "informational.mxm_weight_install_cycles_max ({}); raise chip.mxm_load_streams",
        file, weight_install_cycles(c), facts.at("mxm_weight_install_cycles_max"));
  if (has("c2c_bandwidth_bytes_per_s") && has("c2c_links") && has("c2c_lanes_per_link") &&
      has("c2c_lane_bits_per_s"))
    check_equal(facts.at("c2c_bandwidth_bytes_per_s"),
                facts.at("c2c_links") * facts.at("c2c_lanes_per_link") *
                    facts.at("c2c_lane_bits_per_s") * 2 / 8,
                file, "informational.c2c_bandwidth_bytes_per_s",
                "c2c_links x c2c_lanes_per_link x c2c_lane_bits_per_s x 2 directions / 8");
  check_peak(c.published_peak_int8_ops, implied_int8_ops(c), file, "chip.published_peak_int8_ops",
             "2 x planes x mxm_plane_rows x vector_bytes x clock_hz");
  check_peak(c.published_peak_fp16_flops, implied_int8_ops(c) / 4, file,
             "chip.published_peak_fp16_flops",
             "a quarter of the int8 rate: 2 fp16 sub-ops of K = rows / 2 per cycle");
}

// The chip of a system preset that names its chip preset (`chip: lpu-v1`), with the chip.*,
// delays.* and informational.* overrides.
ChipConfig named_chip(const KeyReader& top, const std::vector<SystemOverride>& chip_overrides) {
  const std::string file = top.file();
  const std::string name = top.text("chip");
  for (const char* key : {"delays", "informational"})
    if (top.has(key))
      fail(
          "{}: key 'chip' names the chip preset '{}', so key '{}' belongs to that preset: give "
          "'chip' as a mapping of the chip's values, or drop '{}'",
          file, name, key, key);
  SystemConfig chip;
  try {
    chip = load_system(name, chip_overrides);
  } catch (const Error& e) {
    fail("{}: key 'chip' is neither a mapping of the chip's values nor a usable chip preset: {}",
         file, e.what());
  }
  if (chip.topology.physical_chips() != 1)
    fail("{}: key 'chip' names '{}', a system of {} chips, not a chip preset", file, name,
         chip.topology.physical_chips());
  return chip.chip;
}

// The optional `system:` section (one chip when absent), checked against the chip.
void read_topology(const KeyReader& top, SystemConfig& system) {
  if (!top.has("system")) return;
  const std::set<std::string> names = field_keys(kTopologyIntFields, kTopologyNumberFields);
  const KeyReader section(top.node("system"), top.file(), "system.", names, names);
  read_fields(section, kTopologyIntFields, kTopologyNumberFields, system.topology);
  check_topology(system.topology, system.chip, top.file());
}

// Reads every key of a preset and checks the rules; `file` names it in errors. A chip preset
// that the file names is loaded with `chip_overrides`.
ParsedSystem parse_system(const YAML::Node& root, const std::string& file,
                          const std::vector<SystemOverride>& chip_overrides) {
  const KeyReader top(root, file, "", {"description", "chip", "delays", "informational", "system"},
                      {"description", "chip"});
  ParsedSystem parsed;
  parsed.system.description = top.text("description");
  ChipConfig& c = parsed.system.chip;

  if (top.node("chip").IsScalar()) {
    parsed.system.chip_preset = top.text("chip");
    c = named_chip(top, chip_overrides);
    read_topology(top, parsed.system);
    return parsed;
  }
  if (!top.has("delays")) fail("{}: required key 'delays' is missing", file);
  const std::set<std::string> chip_names = field_keys(kIntFields, kNumberFields);
  const KeyReader chip(top.node("chip"), file, "chip.", chip_names, chip_names);
  read_fields(chip, kIntFields, kNumberFields, c);

  const std::set<std::string> delay_names = delay_keys();
  const KeyReader delays(top.node("delays"), file, "delays.", delay_names, delay_names);
  for (int i = 0; i < kDelayClassCount; ++i) {
    const std::string key(delay_class_name(static_cast<DelayClass>(i)));
    c.delays[i] = static_cast<int>(
        read_yaml_positive_int(read_sourced_value(delays, key), file, delays.name(key), kMaxDelay));
  }

  if (top.has("informational")) {
    const KeyReader info(top.node("informational"), file, "informational.", fact_keys(), {});
    for (const auto& f : kFactFields) {
      if (!info.has(f.key)) continue;
      const YAML::Node v = read_sourced_value(info, f.key);
      parsed.facts[f.key] = f.integer
                                ? static_cast<double>(read_yaml_positive_int(
                                      v, file, info.name(f.key), static_cast<std::int64_t>(f.max)))
                                : read_yaml_number(v, file, info.name(f.key), f.max);
    }
  }
  check_rules(c, parsed.facts, file);
  read_topology(top, parsed.system);
  return parsed;
}

// Replaces the `value` of each overridden key in `root`, which parse_system has accepted.
void apply_overrides(YAML::Node root, const std::vector<SystemOverride>& overrides,
                     const std::string& file) {
  for (const auto& [key, value] : overrides) {
    const auto dot = key.find('.');
    const std::string section = key.substr(0, dot);
    const std::string field = dot == std::string::npos ? "" : key.substr(dot + 1);
    const YAML::Node& lookup = root;  // const: looking a key up must not insert it
    const bool known = (section == "chip" || section == "delays" || section == "informational" ||
                        section == "system") &&
                       !field.empty() && lookup[section] && lookup[section].IsMap() &&
                       lookup[section][field];
    if (!known)
      fail(
          "{}: cannot override '{}': the file has no such value (keys look like chip.clock_hz, "
          "delays.mxm_compute, informational.slice_address_bits or system.hop_latency_ns)",
          file, key);
    root[section][field]["value"] = value;
  }
}

SystemConfig load_system_file(const ConfigFile& file,
                              const std::vector<SystemOverride>& overrides) {
  YAML::Node root = load_yaml_file(file.path, "system preset");
  try {
    ParsedSystem parsed = parse_system(root, file.path, {});
    cross_check(parsed.system.chip, parsed.facts, file.path);
    if (!overrides.empty()) {
      // A named chip preset takes the overrides of its own sections; this file takes system.*.
      std::vector<SystemOverride> own, chip;
      for (const auto& o : overrides)
        (parsed.system.chip_preset.empty() || o.first.rfind("system.", 0) == 0 ? own : chip)
            .push_back(o);
      apply_overrides(root, own, file.path);
      std::vector<std::string> settings;
      for (const auto& [key, value] : overrides) settings.push_back(key + "=" + value);
      parsed = parse_system(root, fmt::format("{} (with {})", file.path, fmt::join(settings, ", ")),
                            chip);
    }
    parsed.system.name = file.name;
    parsed.system.source = file.path;
    return parsed.system;
  } catch (const YAML::Exception& e) {
    fail("{}: malformed system preset at line {} ({})", file.path, e.mark.line + 1, e.msg);
  }
}

}  // namespace

SystemConfig load_system(const std::string& name_or_path) { return load_system(name_or_path, {}); }

SystemConfig load_system(const std::string& name_or_path,
                         const std::vector<SystemOverride>& overrides) {
  return load_system_file(find_config_file(kKind, name_or_path, "system preset"), overrides);
}

SystemOverride parse_system_override(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    fail("'{}' is not an override of the form key=value (e.g. chip.clock_hz=1e9)", text);
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::vector<std::string> system_preset_names() { return config_names(kKind); }

}  // namespace lockstep::lpu
