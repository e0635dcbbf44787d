#include "plan/gpu_preset.h"

#include <yaml-cpp/yaml.h>

#include "core/config_files.h"
#include "core/error.h"
#include "core/yaml_keys.h"

namespace lockstep::plan {
namespace {

constexpr const char* kKind = "gpus";
constexpr const char* kWhat = "GPU preset";

// Sanity bounds: larger is a typo (a petabyte of HBM, an exaflop per GPU), not a GPU.
constexpr double kMaxBytes = 1e15;
constexpr double kMaxBytesPerS = 1e15;
constexpr double kMaxFlops = 1e18;
constexpr double kMaxPowerW = 1e6;
constexpr double kMaxPriceUsd = 1e9;
constexpr double kMaxOverheadS = 1.0;
constexpr std::int64_t kMaxSystemGpus = 1024;


double number(const KeyReader& section, const std::string& key, double max,
              bool allow_zero = false) {
  return read_yaml_number(read_sourced_value(section, key), section.file(), section.name(key), max,
                          allow_zero);
}

double optional_number(const KeyReader& section, const std::string& key, double max) {
  return section.has(key) ? number(section, key, max) : 0.0;
}

}  // namespace

std::vector<std::string> gpu_preset_names() { return config_names(kKind); }

GpuPreset load_gpu_preset(const std::string& name_or_path) {
  const ConfigFile f = find_config_file(kKind, name_or_path, kWhat);
  return parse_gpu_preset_file(f.path, f.name);
}

GpuPreset parse_gpu_preset_file(const std::string& path, const std::string& name) {
  const YAML::Node root = load_yaml_file(path, kWhat);
  const KeyReader top(root, path, "", {"description", "gpu", "system", "decode"},
                      {"description", "gpu", "system", "decode"});
  GpuPreset p;
  p.name = name;
  p.file = path;
  p.description = top.text("description");

  const KeyReader gpu(top.node("gpu"), path, "gpu.",
                      {"hbm_bytes", "hbm_bytes_per_s", "peak_flops_fp16", "peak_flops_fp8",
                       "peak_ops_int8", "peak_flops_fp4", "nvlink_bytes_per_s", "power_w",
                       "price_usd"},
                      {"hbm_bytes", "hbm_bytes_per_s", "peak_flops_fp16", "nvlink_bytes_per_s",
                       "power_w", "price_usd"});
  p.hbm_bytes = number(gpu, "hbm_bytes", kMaxBytes);
  p.hbm_bytes_per_s = number(gpu, "hbm_bytes_per_s", kMaxBytesPerS);
  p.peak_flops_fp16 = number(gpu, "peak_flops_fp16", kMaxFlops);
  p.peak_flops_fp8 = optional_number(gpu, "peak_flops_fp8", kMaxFlops);
  p.peak_ops_int8 = optional_number(gpu, "peak_ops_int8", kMaxFlops);
  p.peak_flops_fp4 = optional_number(gpu, "peak_flops_fp4", kMaxFlops);
  p.nvlink_bytes_per_s = number(gpu, "nvlink_bytes_per_s", kMaxBytesPerS);
  p.power_w = number(gpu, "power_w", kMaxPowerW);
  p.price_usd = number(gpu, "price_usd", kMaxPriceUsd);

  const KeyReader system(top.node("system"), path, "system.", {"gpus", "price_usd", "power_w"},
                         {"gpus", "price_usd", "power_w"});
  p.system_gpus = static_cast<int>(read_yaml_positive_int(
      read_sourced_value(system, "gpus"), path, system.name("gpus"), kMaxSystemGpus));
  p.system_price_usd = number(system, "price_usd", kMaxPriceUsd);
  p.system_power_w = number(system, "power_w", kMaxPowerW * kMaxSystemGpus);

  const std::set<std::string> decode_keys = {"hbm_efficiency", "flops_efficiency",
                                             "per_layer_overhead_s", "allreduce_latency_s",
                                             "hbm_usable_fraction"};
  const KeyReader decode(top.node("decode"), path, "decode.", decode_keys, decode_keys);
  p.hbm_efficiency = number(decode, "hbm_efficiency", 1.0);
  p.flops_efficiency = number(decode, "flops_efficiency", 1.0);
  p.per_layer_overhead_s = number(decode, "per_layer_overhead_s", kMaxOverheadS, true);
  p.allreduce_latency_s = number(decode, "allreduce_latency_s", kMaxOverheadS, true);
  p.hbm_usable_fraction = number(decode, "hbm_usable_fraction", 1.0);

  // A system's price and power cover at least its GPUs'.
  if (p.system_price_usd < p.system_gpus * p.price_usd)
    fail("{}: key 'system.price_usd' ({}) is less than system.gpus x gpu.price_usd ({} x {})",
         path, p.system_price_usd, p.system_gpus, p.price_usd);
  if (p.system_power_w < p.system_gpus * p.power_w)
    fail("{}: key 'system.power_w' ({}) is less than system.gpus x gpu.power_w ({} x {})", path,
         p.system_power_w, p.system_gpus, p.power_w);
  return p;
}

}  // namespace lockstep::plan
