// What a program asks of each unit, counted from its instructions alone (no simulation): busy
// iterations per unit kind, stream hops, and the utilisation these imply over the program's
// predicted length. `lockstep compile` prints these; the simulator measures the same counts.
#pragma once

#include <array>
#include <cstdint>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program.h"
#include "lpu/arch/system_config.h"

namespace lockstep::lpu {

struct ProgramStats {
  std::uint64_t cycles = 0;                    // predicted run length, cycles @ core clock
  std::array<std::uint64_t, 6> iterations{};   // [Unit] issued iterations
  std::uint64_t mxm_compute_iterations = 0;    // Compute iterations (one vector x one plane)
  std::uint64_t bank_accesses = 0;             // MEM bank reads + writes (vectors)
  std::uint64_t stream_hops = 0;               // sum over written vectors of positions covered

  // Fractions of the chip's capacity over `cycles`.
  double mxm_utilisation(const ChipConfig& chip, const Floorplan& fp) const;
  double vxm_utilisation(const ChipConfig& chip) const;
  double mem_utilisation(const ChipConfig& chip, const Floorplan& fp) const;  // of bank ports
  double stream_utilisation(const ChipConfig& chip, const Floorplan& fp) const;
};

ProgramStats program_stats(const Program& program, const Floorplan& floorplan);

}  // namespace lockstep::lpu
