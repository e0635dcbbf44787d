// What the chip simulator reports while it runs, for whoever wants a record of the run: the
// Chrome trace (lpu/report/chip_chrome_trace.h), the system activity (lpu/report/
// system_activity.h). The simulator calls it; what a sink writes is no business of the simulator.
#pragma once

#include <cstdint>

#include "lpu/arch/floorplan.h"
#include "lpu/arch/system_config.h"
#include "lpu/program/program.h"

namespace lockstep::lpu {

// The window of the streams_in_use samples, cycles @ chip clock.
inline constexpr int kStreamSampleCycles = 64;

// Calls come in nondecreasing cycle order, begin_run first and end_run last (end_run is not
// called when the run fails). A sink may refuse a second run with lockstep::Error.
class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void begin_run(const ChipConfig& chip, const Floorplan& floorplan,
                         const Program& program) = 0;
  // An instruction issues its first iteration (cycle = instruction.cycle). delay: its
  // functional delay in cycles.
  virtual void instruction(int queue, int index, const Instruction& instruction, int delay) = 0;
  // Distinct streams written by iterations issued in [cycle, cycle + kStreamSampleCycles).
  virtual void streams_in_use(std::uint64_t cycle, int east, int west) = 0;
  // The run completed; cycles = its length.
  virtual void end_run(std::uint64_t cycles) = 0;
};

}  // namespace lockstep::lpu
