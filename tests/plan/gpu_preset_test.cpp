// GPU presets: every file in configs/gpus loads and carries the datasheet numbers; every kind of
// bad file gives one error naming the file and the dotted key.
#include "plan/gpu_preset.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <string>

#include "core/error.h"
#include "support/expect_error.h"
#include "support/paths.h"

namespace lockstep::plan {
namespace {

TEST(GpuPresetTest, AllPresetsLoad) {
  const auto names = gpu_preset_names();
  for (const char* required : {"h100-sxm", "b300", "h200", "a100-sxm"})
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const GpuPreset p = load_gpu_preset(name);
    EXPECT_EQ(p.name, name);
    EXPECT_FALSE(p.description.empty());
    EXPECT_GT(p.hbm_bytes, 1e9);
    EXPECT_GT(p.peak_flops_fp16, 1e12);
    EXPECT_EQ(p.system_gpus, 8);
    EXPECT_GE(p.system_price_usd, 8 * p.price_usd);
    EXPECT_GT(p.hbm_efficiency, 0);
    EXPECT_LE(p.hbm_efficiency, 1);
    EXPECT_LE(p.flops_efficiency, 1);
    EXPECT_LE(p.hbm_usable_fraction, 1);
  }
}

TEST(GpuPresetTest, H100MatchesDatasheet) {
  const GpuPreset p = load_gpu_preset("h100-sxm");
  EXPECT_DOUBLE_EQ(p.hbm_bytes, 80.0 * (1 << 30));
  EXPECT_DOUBLE_EQ(p.hbm_bytes_per_s, 3.35e12);
  EXPECT_DOUBLE_EQ(p.peak_flops_fp16, 989e12);
  EXPECT_DOUBLE_EQ(p.peak_flops_fp8, 1979e12);
  EXPECT_DOUBLE_EQ(p.peak_flops_fp4, 0);  // no FP4 tensor cores on Hopper
  EXPECT_DOUBLE_EQ(p.nvlink_bytes_per_s, 450e9);
  EXPECT_DOUBLE_EQ(p.power_w, 700);
  EXPECT_DOUBLE_EQ(p.system_price_usd, 350000);  // Figure 11
  EXPECT_DOUBLE_EQ(p.system_power_w, 10200);     // Figure 11
}

TEST(GpuPresetTest, B300MatchesFigure18) {
  const GpuPreset p = load_gpu_preset("b300");
  EXPECT_DOUBLE_EQ(p.hbm_bytes, 288e9);
  EXPECT_DOUBLE_EQ(p.hbm_bytes_per_s, 8e12);
  EXPECT_DOUBLE_EQ(p.peak_flops_fp4, 15e15);
  EXPECT_DOUBLE_EQ(p.peak_flops_fp8, 4.5e15);
  EXPECT_DOUBLE_EQ(p.nvlink_bytes_per_s, 900e9);  // 1.8 TB/s both ways
}

TEST(GpuPresetTest, UnknownNameListsPresets) {
  testing::expect_error_naming([] { load_gpu_preset("h900"); }, "h900", {"h100-sxm"});
}

// Writes h100-sxm.yaml changed by `edit` to a scratch file and returns its path.
std::string edited_preset(const std::string& file_name, const std::function<void(YAML::Node&)>& edit) {
  YAML::Node root = YAML::LoadFile(load_gpu_preset("h100-sxm").file);
  edit(root);
  const std::string path = testing::scratch_dir("presets") + "/" + file_name;
  std::ofstream(path) << YAML::Dump(root) << "\n";
  return path;
}

TEST(GpuPresetTest, EditedCopyStillLoads) {
  const std::string path = edited_preset("same.yaml", [](YAML::Node&) {});
  EXPECT_DOUBLE_EQ(load_gpu_preset(path).hbm_bytes_per_s, 3.35e12);
}

TEST(GpuPresetTest, BadValuesNameTheKey) {
  struct Case {
    const char* file;
    std::function<void(YAML::Node&)> edit;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {"missing.yaml", [](YAML::Node& r) { r["gpu"].remove("hbm_bytes_per_s"); },
       {"gpu.hbm_bytes_per_s", "missing"}},
      {"bare.yaml", [](YAML::Node& r) { r["gpu"]["power_w"] = 700; },
       {"gpu.power_w", "mapping"}},
      {"negative.yaml", [](YAML::Node& r) { r["gpu"]["hbm_bytes"]["value"] = -1; },
       {"gpu.hbm_bytes"}},
      {"text.yaml", [](YAML::Node& r) { r["gpu"]["peak_flops_fp16"]["value"] = "lots"; },
       {"gpu.peak_flops_fp16"}},
      {"efficiency.yaml", [](YAML::Node& r) { r["decode"]["hbm_efficiency"]["value"] = 1.5; },
       {"decode.hbm_efficiency", "at most"}},
      {"zero_fraction.yaml",
       [](YAML::Node& r) { r["decode"]["hbm_usable_fraction"]["value"] = 0; },
       {"decode.hbm_usable_fraction"}},
      {"unknown.yaml", [](YAML::Node& r) { r["gpu"]["hbm_colour"]["value"] = 1; },
       {"gpu.hbm_colour", "unknown"}},
      {"no_source.yaml", [](YAML::Node& r) { r["system"]["price_usd"].remove("source"); },
       {"system.price_usd", "source"}},
      {"both.yaml",
       [](YAML::Node& r) { r["decode"]["flops_efficiency"]["source"] = "a datasheet"; },
       {"decode.flops_efficiency", "exactly one"}},
      {"empty_source.yaml", [](YAML::Node& r) { r["gpu"]["price_usd"]["source"] = " "; },
       {"gpu.price_usd.source", "empty"}},
      {"gpus.yaml", [](YAML::Node& r) { r["system"]["gpus"]["value"] = 8.5; },
       {"system.gpus"}},
      {"cheap.yaml", [](YAML::Node& r) { r["system"]["price_usd"]["value"] = 1000; },
       {"system.price_usd", "gpu.price_usd"}},
      {"no_decode.yaml", [](YAML::Node& r) { r.remove("decode"); }, {"decode", "missing"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string path = edited_preset(c.file, c.edit);
    testing::expect_error_naming([&] { load_gpu_preset(path); }, c.file, c.words);
  }
}

}  // namespace
}  // namespace lockstep::plan
