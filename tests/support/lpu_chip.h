// The chip the LPU tests run against: ChipConfig's defaults (lpu-v1's values) and its floorplan,
// built once.
#pragma once

#include "lpu/arch/floorplan.h"
#include "lpu/arch/system_config.h"

namespace lockstep::testing {

inline const lpu::ChipConfig& test_chip() {
  static const lpu::ChipConfig chip;
  return chip;
}

inline const lpu::Floorplan& test_floorplan() {
  static const lpu::Floorplan floorplan(test_chip());
  return floorplan;
}

// A system around the test chip, for compilers that take a SystemConfig.
inline lpu::SystemConfig test_system() {
  lpu::SystemConfig s;
  s.name = "defaults";
  return s;
}

}  // namespace lockstep::testing
