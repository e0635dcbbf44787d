// How many LPU chips and racks a model needs: the compiler's partition planner
// (compiler/partition_planner.h, the same function `lockstep compile` and SystemDecode use) on
// a chip preset, then racks, SRAM headroom, capex and power at a price per chip. Fast (no
// scheduling): the speed comes from lpu_speed.h.
#pragma once

#include <cstdint>
#include <string>

#include "compiler/precision.h"
#include "lpu/arch/system_config.h"
#include "model/model.h"

namespace lockstep::plan {

// What one LPU chip costs to buy and to run, with where the figures come from.
struct LpuPrice {
  double usd_per_chip = 4375;  // Figure 11 "Groq at cost": 2,520,000 USD / 576 chips
  double kw_per_chip = 0.4;    // Figure 11: 230.4 kW system power / 576 chips
  int chips_per_rack = 72;     // FACTS.md: a rack is 9 nodes x 8 chips (Figure 11 counts 576 as 8 racks)
};

struct LpuSizing {
  std::string chip;                  // the chip preset's name ("lpu-v1")
  std::int64_t chips = 0;            // S x P
  int stages = 0, tensor_parallel = 0;
  std::int64_t racks = 0;            // ceil(chips / chips_per_rack)
  std::uint64_t chip_sram_bytes = 0; // SRAM of one chip, bytes
  double fullest_chip = 0;           // largest fraction of a chip's SRAM placed (0..1, estimate)
  double sram_headroom = 0;          // 1 - fullest_chip
  double capex_usd = 0;              // chips x usd_per_chip
  double power_kw = 0;               // chips x kw_per_chip
  std::string binds;                 // what sets the count ("SRAM per chip", ...)
  std::string reason;                // the planner's explanation, for people
};

// The planner's plan for `system` (a chip preset: the fewest chips; a system of chips: as the
// compiler uses it). Throws lockstep::Error (one sentence) when no partition fits.
LpuSizing size_lpu(const model::ModelConfig& config, const lpu::SystemConfig& system,
                   const compiler::PrecisionPolicy& weights, std::int64_t context, const LpuPrice& price = {});

}  // namespace lockstep::plan
