// The hardware description of one chip (and, later, of a system of chips): every number the
// compiler and the simulator use, read from a YAML preset in configs/systems/. Each value in the
// file carries its source (a FACTS.md row) or is marked as an assumption with its reason.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lpu/arch/isa.h"

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
  int sxm_queues_per_hemisphere = 14;      // SXM instruction queues, each running any SXM op

  // Functional delays, cycles @ core clock, indexed by DelayClass (order of isa.h):
  // mem_read, mem_write, mem_gather, mem_scatter, vxm_alu, vxm_transcendental, vxm_convert,
  // sxm, mxm_load_weights, mxm_install_weights, mxm_compute, mxm_emit, c2c_send, c2c_receive.
  // The papers publish none;
  // these defaults are lpu-v1.yaml's assumptions (reasons there).
  std::array<int, kDelayClassCount> delays{2, 2, 4, 4, 4, 12, 2, 4, 1, 4, 24, 4, 1, 2};

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

// How the chips of a system are packaged and wired (FACTS.md "Systems"; RealScale in DIGEST.md).
// Physical chips = racks x nodes_per_rack x chips_per_node = chips + spare_chips. The defaults
// are one chip alone (a chip preset with no `system:` section); the link values are then unused.
// Wiring (lpu/topology.h builds it): inside a node every chip has a local link to every other
// (all-to-all, K_chips_per_node); each chip's global links are the node's global ports; inside a
// rack the nodes are all-to-all over global ports, and racks are joined all-to-all (with as many
// parallel links per rack pair as the remaining ports allow): a software-scheduled Dragonfly whose
// groups are racks.
struct SystemTopology {
  int chips = 1;                     // active chips (the ones a program may be placed on)
  int spare_chips = 0;               // cabled but held in reserve; the highest chip ids
  int chips_per_node = 1;
  int nodes_per_rack = 1;
  int racks = 1;
  int sync_domain_chips = 576;       // chips in one counter-aligned domain; larger systems join
                                     // domains with Ethernet-like (jittery) timing
  int local_links = 0;               // per chip, inside its node: chips_per_node - 1
  int global_links = 0;              // per chip, to other nodes
  int lanes_per_link = 4;
  double lane_bits_per_s = 25e9;     // per lane, per direction
  int link_latency_cycles = 217;     // one link, cycles @ core clock
  double hop_latency_ns = 722;       // per further hop of a route (receive, deskew, re-send)
  int flit_payload_bytes = 320;      // one vector per flit
  int flit_overhead_bytes = 8;
  double ethernet_latency_ns = 2000;       // fixed part of a hop between synchronous domains
  double ethernet_jitter_median_ns = 500;  // log-normal jitter added to it: median, ns
  double ethernet_jitter_sigma = 0.5;      // and sigma of the underlying normal

  int physical_chips() const { return chips + spare_chips; }
  int chips_per_rack() const { return chips_per_node * nodes_per_rack; }
  int links_per_chip() const { return local_links + global_links; }
  // Bytes one link carries per cycle, per direction, at `clock_hz`.
  double link_bytes_per_cycle(double clock_hz) const {
    return lanes_per_link * lane_bits_per_s / 8 / clock_hz;
  }
};

struct SystemConfig {
  std::string name;         // "lpu-v1"
  std::string description;  // one line for reports
  std::string source;       // the file it was read from
  std::string chip_preset;  // the chip preset a system preset names ("lpu-v1"); empty if inline
  ChipConfig chip;
  SystemTopology topology;  // one chip unless the file has a `system:` section
};

// Loads a preset by name (configs/systems/<name>.yaml, found as core/config_files.h says:
// $LOCKSTEP_CONFIG_DIR/systems, beside the executable, or in the source tree) or by path
// (anything ending in .yaml). Every key is checked: a missing, unknown, mistyped or out-of-range
// key, or a value with neither `source` nor `assumption`, is a lockstep::Error naming the file
// and the dotted key ("chip.clock_hz").
//
// File format (every key required unless marked optional; any other key is an error):
//   description: one line for reports
//   chip:          every numeric field of ChipConfig, by its name; or the name of a chip preset
//                  ("chip: lpu-v1"), loaded and checked as load_system does, which must be one
//                  chip; then delays and informational belong to that preset and are not allowed
//   delays:        the 14 functional delays, by delay_class_name (mem_read ... c2c_receive)
//   system:        (optional; all keys required when present) every field of SystemTopology by
//                  its name; chips, spare_chips, local_links, global_links may be 0
//   informational: (optional; each key optional) published facts with no field of their own:
//     die_area_mm2, transistors, sram_bytes, slice_address_bits, sram_bandwidth_bytes_per_cycle,
//     stream_bandwidth_bytes_per_cycle, mxm_weight_install_cycles_max, instruction_queues,
//     c2c_links, c2c_lanes_per_link, c2c_lane_bits_per_s, c2c_bandwidth_bytes_per_s,
//     provisioned_power_w
// Every number is a mapping {value: <number>, source: <text>} or {value, assumption: <text>}:
// exactly one of source (where the number is published) or assumption (why this value).
// Integers are positive except published_peak_* (0 = none published).
//
// Rules the fields must obey (checked after overrides too):
//   vector_bytes == superlanes * lanes_per_superlane, a multiple of 4 (f32 lanes);
//   mxm_plane_rows == vector_bytes (an int8 input vector holds one element per weight row);
//   streams_per_direction <= 32 (program.h encodes a stream index in 5 bits);
//   mxm_load_streams <= streams_per_direction;
//   positions 2 * (mxm_planes_per_hemisphere + 1 + mem_slices_per_hemisphere) + 1 <= 255
//     (Instruction::reach is one byte);
//   banks_per_slice * vectors_per_bank <= 2^informational.slice_address_bits (13 if absent:
//     the v1 chip's 8192 vectors per slice).
// Rules for `system:`: chips + spare_chips == racks x nodes_per_rack x chips_per_node;
//   local_links == chips_per_node - 1; with several nodes, the node's global ports
//   (chips_per_node x global_links) reach every other node of its rack, and with several racks
//   the rack's remaining ports reach every other rack; sync_domain_chips is a whole number of
//   racks or covers the system; flit_payload_bytes == chip.vector_bytes; the hop latency is at
//   least the link latency.
// Cross-checks against the informational facts (on the file as written, not after overrides,
// since an override is a deliberate departure from the published chip):
//   sram_bytes == sram_bytes();  sram_bandwidth == 2 * slices * banks * vector_bytes;
//   stream_bandwidth == 2 * streams_per_direction * vector_bytes;
//   all planes' weights load and install within mxm_weight_install_cycles_max;
//   c2c_bandwidth == links * lanes * lane bits/s * 2 directions / 8;
//   published peaks (when not 0) within 3% of the implied ones: int8 ops/s =
//     2 * planes * mxm_plane_rows * vector_bytes * clock_hz, fp16 = a quarter of that
//     (FACTS.md MXM op model: 4 int8 or 2 fp16 sub-ops of K = 320 or 160 per cycle).
SystemConfig load_system(const std::string& name_or_path);

// One override of a preset's value: {"chip.clock_hz", "1e9"}, {"delays.mxm_compute", "30"},
// {"system.hop_latency_ns", "300"}. Keys name a value the file has (chip.*, delays.*,
// informational.* or system.*); for a system preset that names its chip preset, chip.*, delays.*
// and informational.* go to that preset. Values are read and checked exactly as the file's are.
using SystemOverride = std::pair<std::string, std::string>;

// As load_system(name_or_path), with `overrides` replacing the file's values before the fields
// are read; errors name the file, the overrides and the key.
SystemConfig load_system(const std::string& name_or_path,
                         const std::vector<SystemOverride>& overrides);

// Parses the command-line form "chip.clock_hz=1e9" (as for `--set`); throws lockstep::Error
// when there is no '=' or either side is empty.
SystemOverride parse_system_override(const std::string& text);

// Names of the presets in configs/systems, sorted.
std::vector<std::string> system_preset_names();

}  // namespace lockstep::lpu
