// Hardware presets: both load; lpu-v1 holds FACTS.md's published numbers; every kind of bad file
// and bad override gives one error naming the file and the dotted key.
#include "lpu/arch/system_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "lpu/arch/floorplan.h"
#include "support/expect_error.h"
#include "support/paths.h"

namespace lockstep::lpu {
namespace {

TEST(SystemConfigTest, BothPresetsLoad) {
  const auto names = system_preset_names();
  for (const char* required : {"lpu-v1", "lpu-v2"})
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const SystemConfig s = load_system(name);
    EXPECT_EQ(s.name, name);
    EXPECT_FALSE(s.description.empty());
    EXPECT_NE(s.source.find(name + ".yaml"), std::string::npos) << s.source;
    const Floorplan plan(s.chip);
    EXPECT_LE(plan.positions(), 255);
  }
}

TEST(SystemConfigTest, LpuV1MatchesPublishedFacts) {
  const ChipConfig c = load_system("lpu-v1").chip;
  EXPECT_DOUBLE_EQ(c.clock_hz, 900e6);
  EXPECT_DOUBLE_EQ(c.process_nm, 14);
  EXPECT_DOUBLE_EQ(c.power_w, 300);
  EXPECT_EQ(c.superlanes, 20);
  EXPECT_EQ(c.lanes_per_superlane, 16);
  EXPECT_EQ(c.vector_bytes, 320);
  EXPECT_EQ(2 * c.mem_slices_per_hemisphere, 88);
  EXPECT_EQ(c.banks_per_slice, 2);
  EXPECT_EQ(c.sram_bytes(), 230686720);  // 220 MiB
  EXPECT_EQ(c.sram_bytes(), std::int64_t{220} << 20);
  EXPECT_EQ(c.streams_per_direction, 32);
  EXPECT_EQ(2 * c.mxm_planes_per_hemisphere, 4);
  EXPECT_EQ(c.mxm_plane_rows, 320);
  EXPECT_EQ(c.vxm_alus, 16);
  EXPECT_EQ(c.fp32_lanes(), 80);
  // The delays are the ones the struct's defaults document.
  EXPECT_EQ(c.delays, ChipConfig{}.delays);
  EXPECT_EQ(c.delay(DelayClass::MxmCompute), 24);

  // Peak: 4 planes x 320 x 320 MACs x 2 ops x clock is the published 750 TOPS within 2%.
  const double int8_ops =
      2.0 * c.mxm_planes_per_hemisphere * c.mxm_plane_rows * c.vector_bytes * 2 * c.clock_hz;
  EXPECT_DOUBLE_EQ(c.published_peak_int8_ops, 750e12);
  EXPECT_NEAR(int8_ops / c.published_peak_int8_ops, 1.0, 0.02) << int8_ops;
  // fp16: 2 sub-ops of [1 x 160] x [160 x 320] per cycle, a quarter of the int8 rate.
  EXPECT_NEAR(int8_ops / 4 / c.published_peak_fp16_flops, 1.0, 0.03);
}

TEST(SystemConfigTest, LpuV2IsALargerSuccessor) {
  const ChipConfig v1 = load_system("lpu-v1").chip;
  const ChipConfig v2 = load_system("lpu-v2").chip;
  EXPECT_LT(v2.process_nm, v1.process_nm);
  EXPECT_GT(v2.sram_bytes(), v1.sram_bytes());
  EXPECT_GT(v2.clock_hz, v1.clock_hz);
  EXPECT_EQ(v2.vector_bytes, v1.vector_bytes);
  EXPECT_EQ(v2.published_peak_int8_ops, 0);  // nothing published for a speculative chip
  EXPECT_GT(std::int64_t{v2.banks_per_slice} * v2.vectors_per_bank, 8192);  // 14-bit addresses
}

TEST(SystemConfigTest, UnknownPresetListsThePresets) {
  testing::expect_error_naming([] { load_system("lpu-v9"); }, "lpu-v9", {"lpu-v1", "lpu-v2"});
  EXPECT_THROW(load_system("../systems/lpu-v1"), Error);
  testing::expect_error_naming([] { load_system("/nonexistent/x.yaml"); }, "/nonexistent/x.yaml",
                               {"does not exist"});
}

TEST(SystemConfigTest, ConfigDirFromEnvironmentNeedsASystemsFolder) {
  const std::string dir = testing::scratch_dir("config_without_systems");
  std::filesystem::create_directories(dir + "/models");
  ASSERT_EQ(setenv("LOCKSTEP_CONFIG_DIR", dir.c_str(), 1), 0);
  testing::expect_error_naming([] { system_preset_names(); }, dir, {"systems"});
  unsetenv("LOCKSTEP_CONFIG_DIR");
}

// Bad files: lpu-v1.yaml with one thing changed, written to the test's scratch folder.
class SystemFileTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = YAML::LoadFile(load_system("lpu-v1").source); }

  // Writes the edited tree and returns its path.
  std::string write(const YAML::Node& root) {
    const std::string path =
        testing::scratch_dir("system_" + std::to_string(counter_++)) + "/edited.yaml";
    YAML::Emitter out;
    out << root;
    std::ofstream(path) << out.c_str() << "\n";
    return path;
  }
  // Loading the edited tree must fail with an error naming the file and each of `words`.
  void expect_error(const YAML::Node& root, const std::vector<std::string>& words) {
    const std::string path = write(root);
    testing::expect_error_naming([&] { load_system(path); }, path, words);
  }
  void expect_bad_value(const std::string& section, const std::string& key,
                        const std::string& value) {
    SCOPED_TRACE(section + "." + key + " = " + value);
    YAML::Node root = YAML::Clone(root_);
    root[section][key]["value"] = value;
    expect_error(root, {"'" + section + "." + key + "'"});
  }

  YAML::Node root_;
  int counter_ = 0;
};

TEST_F(SystemFileTest, UneditedCopyLoads) {
  const std::string path = write(root_);
  const SystemConfig s = load_system(path);
  EXPECT_EQ(s.name, "edited");
  EXPECT_EQ(s.chip.sram_bytes(), load_system("lpu-v1").chip.sram_bytes());
}

TEST_F(SystemFileTest, UnknownKeysAreNamed) {
  YAML::Node root = YAML::Clone(root_);
  root["chip"]["clock_mhz"]["value"] = 900;
  root["chip"]["clock_mhz"]["source"] = "x";
  expect_error(root, {"unknown key 'chip.clock_mhz'"});

  root = YAML::Clone(root_);
  root["delays"]["mxm_flush"]["value"] = 1;
  root["delays"]["mxm_flush"]["assumption"] = "x";
  expect_error(root, {"unknown key 'delays.mxm_flush'"});

  root = YAML::Clone(root_);
  root["informational"]["hbm_bytes"]["value"] = 1;
  root["informational"]["hbm_bytes"]["source"] = "x";
  expect_error(root, {"unknown key 'informational.hbm_bytes'"});

  root = YAML::Clone(root_);
  root["systems"] = "x";
  expect_error(root, {"unknown key 'systems'"});

  root = YAML::Clone(root_);
  root["chip"]["clock_hz"]["note"] = "x";
  expect_error(root, {"unknown key 'chip.clock_hz.note'"});
}

TEST_F(SystemFileTest, MissingKeysAreNamed) {
  for (const auto& [section, key] :
       std::vector<std::pair<std::string, std::string>>{{"chip", "vxm_alus"},
                                                        {"chip", "clock_hz"},
                                                        {"delays", "sxm"},
                                                        {"delays", "mxm_compute"}}) {
    YAML::Node root = YAML::Clone(root_);
    root[section].remove(key);
    expect_error(root, {"'" + section + "." + key + "'", "missing"});
  }
  YAML::Node root = YAML::Clone(root_);
  root.remove("delays");
  expect_error(root, {"'delays'", "missing"});
  root = YAML::Clone(root_);
  root["chip"]["power_w"].remove("value");
  expect_error(root, {"'chip.power_w.value'", "missing"});
  // Informational facts are optional.
  root = YAML::Clone(root_);
  root.remove("informational");
  EXPECT_NO_THROW(load_system(write(root)));
}

TEST_F(SystemFileTest, WrongTypesAreNamed) {
  expect_bad_value("chip", "clock_hz", "fast");
  expect_bad_value("chip", "clock_hz", "-3");
  expect_bad_value("chip", "clock_hz", "0");
  expect_bad_value("chip", "superlanes", "20.5");
  expect_bad_value("chip", "superlanes", "twenty");
  expect_bad_value("delays", "mxm_compute", "0");
  expect_bad_value("delays", "mem_read", "-2");
  expect_bad_value("informational", "sram_bytes", "lots");

  YAML::Node root = YAML::Clone(root_);
  root["chip"]["clock_hz"] = "900e6";  // a bare number, not {value, source}
  expect_error(root, {"'chip.clock_hz'", "source", "assumption"});
  root = YAML::Clone(root_);
  root["chip"]["vxm_alus"]["value"] = std::vector<int>{16};  // a list
  expect_error(root, {"'chip.vxm_alus'"});
  root = YAML::Clone(root_);
  root["chip"] = "none";
  expect_error(root, {"'chip'", "mapping"});
}

TEST_F(SystemFileTest, QuotedNumbersAreStrings) {
  std::ifstream in(load_system("lpu-v1").source);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "value: 900e6";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "value: \"900e6\"");
  const std::string path = testing::scratch_dir("quoted") + "/quoted.yaml";
  std::ofstream(path) << text;
  testing::expect_error_naming([&] { load_system(path); }, path, {"'chip.clock_hz'", "quoted"});
}

TEST_F(SystemFileTest, EveryValueNeedsASourceOrAnAssumption) {
  YAML::Node root = YAML::Clone(root_);
  root["chip"]["clock_hz"].remove("source");
  expect_error(root, {"'chip.clock_hz'", "source", "assumption"});

  root = YAML::Clone(root_);
  root["delays"]["sxm"]["source"] = "FACTS.md";  // both: which is it?
  expect_error(root, {"'delays.sxm'", "exactly one"});

  root = YAML::Clone(root_);
  root["delays"]["sxm"]["assumption"] = " ";
  expect_error(root, {"'delays.sxm.assumption'", "empty"});
}

TEST_F(SystemFileTest, OutOfRangeValuesAreNamed) {
  expect_bad_value("chip", "streams_per_direction", "33");  // 5-bit stream index
  expect_bad_value("chip", "clock_hz", "1e12");
  // The rules between fields name the fields.
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {"superlanes", "21", "chip.vector_bytes"},
      {"mxm_plane_rows", "256", "chip.mxm_plane_rows"},
      {"mxm_load_streams", "33", "chip.mxm_load_streams"},
      {"mem_slices_per_hemisphere", "125", "chip.mem_slices_per_hemisphere"},  // 257 positions
      {"vectors_per_bank", "8192", "chip.vectors_per_bank"},                   // 14-bit addresses
  };
  for (const auto& [key, value, named] : cases) {
    SCOPED_TRACE(key + " = " + value);
    YAML::Node root = YAML::Clone(root_);
    root["chip"][key]["value"] = value;
    expect_error(root, {named});
  }
  YAML::Node root = YAML::Clone(root_);
  root["chip"]["streams_per_direction"]["value"] = 8;
  expect_error(root, {"chip.mxm_load_streams", "chip.streams_per_direction"});
}

TEST_F(SystemFileTest, PublishedFactsAreCrossChecked) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {"informational", "sram_bytes", "230000000"},
      {"informational", "sram_bandwidth_bytes_per_cycle", "56000"},
      {"informational", "stream_bandwidth_bytes_per_cycle", "10240"},
      {"informational", "c2c_bandwidth_bytes_per_s", "512e9"},
      {"informational", "mxm_weight_install_cycles_max", "20"},
      {"chip", "published_peak_int8_ops", "1000e12"},
      {"chip", "published_peak_fp16_flops", "750e12"},
      {"chip", "clock_hz", "1.25e9"},  // the peaks were published at 900 MHz
  };
  for (const auto& [section, key, value] : cases) {
    SCOPED_TRACE(section + "." + key + " = " + value);
    YAML::Node root = YAML::Clone(root_);
    root[section][key]["value"] = value;
    const std::string named = key == "clock_hz" ? "published_peak" : section + "." + key;
    expect_error(root, {named});
  }
}

TEST_F(SystemFileTest, BrokenFiles) {
  const std::string dir = testing::scratch_dir("broken");
  std::ofstream(dir + "/bad.yaml") << "chip: [unterminated\n";
  testing::expect_error_naming([&] { load_system(dir + "/bad.yaml"); }, dir + "/bad.yaml",
                               {"YAML"});
  std::ofstream(dir + "/empty.yaml") << "";
  testing::expect_error_naming([&] { load_system(dir + "/empty.yaml"); }, dir + "/empty.yaml",
                               {"empty"});
  std::ofstream(dir + "/list.yaml") << "- a\n- b\n";
  testing::expect_error_naming([&] { load_system(dir + "/list.yaml"); }, dir + "/list.yaml",
                               {"mapping"});
}

TEST(SystemOverrideTest, OverridesReplaceValues) {
  const SystemConfig base = load_system("lpu-v1");
  const SystemConfig fast = load_system("lpu-v1", {{"chip.clock_hz", "1e9"}});
  EXPECT_DOUBLE_EQ(fast.chip.clock_hz, 1e9);
  EXPECT_EQ(fast.chip.sram_bytes(), base.chip.sram_bytes());
  EXPECT_EQ(fast.chip.published_peak_int8_ops, base.chip.published_peak_int8_ops);

  const SystemConfig slow_mxm =
      load_system("lpu-v1", {parse_system_override("delays.mxm_compute=30")});
  EXPECT_EQ(slow_mxm.chip.delay(DelayClass::MxmCompute), 30);
  EXPECT_EQ(slow_mxm.chip.delay(DelayClass::MemRead), base.chip.delay(DelayClass::MemRead));

  // A bigger chip than v1 needs its addressing widened too; the published capacity is not
  // re-checked once the user departs from the published chip.
  const SystemConfig big = load_system(
      "lpu-v1", {{"chip.vectors_per_bank", "8192"}, {"informational.slice_address_bits", "14"}});
  EXPECT_EQ(big.chip.sram_bytes(), 2 * base.chip.sram_bytes());
}

TEST(SystemOverrideTest, OverridesAreValidated) {
  const std::string file = load_system("lpu-v1").source;
  struct Case {
    SystemOverride override_;
    std::vector<std::string> words;  // the error must name these (and the file)
  };
  const std::vector<Case> cases{
      {{"chip.clock_hz", "-3"}, {"'chip.clock_hz'", "chip.clock_hz=-3"}},
      {{"chip.clock_hz", "fast"}, {"'chip.clock_hz'", "fast"}},
      {{"chip.clock_ghz", "1"}, {"'chip.clock_ghz'"}},
      {{"clock_hz", "1e9"}, {"'clock_hz'"}},
      {{"description", "x"}, {"'description'"}},
      {{"chip.superlanes", "21"}, {"chip.vector_bytes"}},
      {{"chip.vectors_per_bank", "8192"}, {"chip.vectors_per_bank", "slice_address_bits"}},
      {{"delays.sxm", "0"}, {"'delays.sxm'"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.override_.first + "=" + c.override_.second);
    testing::expect_error_naming([&] { load_system("lpu-v1", {c.override_}); }, file, c.words);
  }
}

TEST(SystemOverrideTest, CommandLineForm) {
  const SystemOverride o = parse_system_override("chip.clock_hz=1.25e9");
  EXPECT_EQ(o.first, "chip.clock_hz");
  EXPECT_EQ(o.second, "1.25e9");
  for (const char* bad : {"chip.clock_hz", "=1e9", "chip.clock_hz="})
    testing::expect_error_naming([&] { parse_system_override(bad); }, bad, {"key=value"});
}

}  // namespace
}  // namespace lockstep::lpu
