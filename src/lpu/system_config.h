// The hardware description of one chip (and, later, of a system of chips): every number the
// compiler and the simulator use, read from a YAML preset in configs/systems/. Each value in the
// file carries its source (a FACTS.md row) or is marked as an assumption with its reason.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lpu/isa.h"

namespace lockstep::lpu {

struct ChipConfig {
  double clock_hz = 900e6;                 // core clock, Hz
  double process_nm = 14;                  // for the report only
  double power_w = 300;                    // chip power, W
  int superlanes = 20;                     // a vector is superlanes x lanes_per_superlane bytes
  int lanes_per_superlane = 16;
  int vector_bytes = 320;                  // = superlanes * lanes_per_superlane

  int mem_slices_per_hemisphere = 44;      // MEM slices between SXM and VXM, per hemisphere
  int banks_per_slice = 2;
  int vectors_per_bank = 4096;             // 320-byte vectors per bank
  int streams_per_direction = 32;          // eastward streams = westward streams

  int mxm_planes_per_hemisphere = 2;       // planes of mxm_plane_rows x vector_bytes
  int mxm_plane_rows = 320;                // weight vectors per plane
  int mxm_load_streams = 16;               // streams one LoadWeights reads per cycle
  int mxm_accumulator_rows = 512;          // accumulator rows (of 320 x 4 bytes) per plane
  int vxm_alus = 16;                       // VXM instruction queues (ALUs), at the centre

  // Functional delays, cycles @ core clock, indexed by DelayClass (order of isa.h):
  // mem_read, mem_write, mem_gather, mem_scatter, vxm_alu, vxm_transcendental, vxm_convert,
  // sxm, mxm_load_weights, mxm_install_weights, mxm_compute, mxm_emit. The papers publish none;
  // these defaults are lpu-v1.yaml's assumptions (reasons there).
  std::array<int, kDelayClassCount> delays{2, 2, 4, 4, 4, 12, 2, 4, 1, 4, 24, 4};

  // Published peaks, only to compare predictions against in reports.
  double published_peak_int8_ops = 0;      // ops/s
  double published_peak_fp16_flops = 0;    // flop/s

  int delay(DelayClass c) const { return delays[static_cast<int>(c)]; }
  std::int64_t sram_bytes() const {
    return std::int64_t{2} * mem_slices_per_hemisphere * banks_per_slice * vectors_per_bank *
           vector_bytes;
  }
  int fp32_lanes() const { return vector_bytes / 4; }
};

struct SystemConfig {
  std::string name;         // "lpu-v1"
  std::string description;  // one line for reports
  std::string source;       // the file it was read from
  ChipConfig chip;
};

// Loads a preset by name (configs/systems/<name>.yaml, found beside the source tree or in
// $LOCKSTEP_CONFIG_DIR/systems) or by path (anything ending in .yaml). Every key is checked:
// a missing, unknown or out-of-range key is a lockstep::Error naming the key and the file.
SystemConfig load_system(const std::string& name_or_path);

// Names of the presets in configs/systems, sorted.
std::vector<std::string> system_preset_names();

}  // namespace lockstep::lpu
