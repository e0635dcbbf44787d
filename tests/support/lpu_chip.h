// The chip the LPU tests run against: ChipConfig's defaults (lpu-v1's values) and its floorplan,
// built once.
#pragma once

#include "lpu/floorplan.h"
#include "lpu/system_config.h"

namespace lockstep::testing {

inline const lpu::ChipConfig& test_chip() {
  static const lpu::ChipConfig chip;
  return chip;
}

inline const lpu::Floorplan& test_floorplan() {
  static const lpu::Floorplan floorplan(test_chip());
  return floorplan;
}

}  // namespace lockstep::testing
