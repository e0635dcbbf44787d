// GPU presets for `lockstep plan`: one YAML file per GPU in configs/gpus/<name>.yaml (found as
// core/config_files.h says, kind "gpus"), read strictly (core/yaml_keys.h).
//
// File format (every key required unless marked optional; any other key is an error). Each
// number is a mapping {value: <number>, source: <where it is published>} or
// {value: <number>, assumption: <why this value>}, never a bare number:
//   description: <text>
//   gpu:
//     hbm_bytes            HBM capacity of one GPU, bytes
//     hbm_bytes_per_s      HBM bandwidth of one GPU, bytes/s
//     peak_flops_fp16      dense fp16/bf16 tensor peak, flops/s
//     peak_flops_fp8       (optional) dense fp8 tensor peak, flops/s
//     peak_ops_int8        (optional) dense int8 tensor peak, ops/s
//     peak_flops_fp4       (optional) dense fp4 tensor peak, flops/s
//     nvlink_bytes_per_s   NVLink bandwidth of one GPU in ONE direction, bytes/s (half the
//                          datasheet's "900 GB/s"-style figure, which counts both directions)
//     power_w              board power (TDP), W
//     price_usd            price of one GPU, USD
//   system:                one server of `gpus` GPUs (HGX/DGX)
//     gpus                 GPUs per system (integer)
//     price_usd            price of the whole system, USD
//     power_w              maximum power of the whole system, W
//   decode:                what a decode step costs beyond bytes and flops (assumptions)
//     hbm_efficiency       achievable fraction of hbm_bytes_per_s, in (0, 1]
//     flops_efficiency     achievable fraction of the tensor peak, in (0, 1]
//     per_layer_overhead_s kernel launch + synchronisation gaps per transformer layer, s (may be 0)
//     allreduce_latency_s  fixed latency of one tensor-parallel all-reduce, s (may be 0)
//     hbm_usable_fraction  fraction of hbm_bytes that may hold weights + KV cache, in (0, 1]
//
// Errors throw lockstep::Error, one sentence naming the file and the dotted key
// ("h100-sxm.yaml: key 'gpu.hbm_bytes_per_s' must be a positive number").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lockstep::plan {

struct GpuPreset {
  std::string name;         // file stem: "h100-sxm"
  std::string file;         // the YAML file it was read from
  std::string description;

  double hbm_bytes = 0;
  double hbm_bytes_per_s = 0;
  double peak_flops_fp16 = 0;
  double peak_flops_fp8 = 0;   // 0: the GPU has no fp8 tensor cores
  double peak_ops_int8 = 0;    // 0: none (or not modelled)
  double peak_flops_fp4 = 0;   // 0: none
  double nvlink_bytes_per_s = 0;  // one direction
  double power_w = 0;
  double price_usd = 0;

  int system_gpus = 0;
  double system_price_usd = 0;
  double system_power_w = 0;

  double hbm_efficiency = 0;
  double flops_efficiency = 0;
  double per_layer_overhead_s = 0;
  double allreduce_latency_s = 0;
  double hbm_usable_fraction = 0;
};

// Names of configs/gpus/*.yaml, sorted.
std::vector<std::string> gpu_preset_names();

// A preset by name ("h100-sxm") or path (ending in ".yaml").
GpuPreset load_gpu_preset(const std::string& name_or_path);

// Parses one preset file; `name` becomes the preset's name.
GpuPreset parse_gpu_preset_file(const std::string& path, const std::string& name);

}  // namespace lockstep::plan
