// The LPU's roofline: for one chip program, the lower bounds on its run length that the
// machine's constants give for the work it does, and the fraction of the tightest one the
// schedule reaches (the counterpart of `lockstep bench`'s memory roofline for the CPU).
//
// Every bound is work / the rate the chip can do it at, cycles @ core clock:
//   - weights into the MXM: the vectors LoadWeights streams, over 16 rows per cycle per plane
//     (mxm_load_streams x planes x vector_bytes B/cycle = the stream bandwidth on lpu-v1);
//   - MXM arithmetic: one Compute pass per cycle per plane (an fp16 pass holds its plane two
//     cycles) plus one cycle per install;
//   - VXM: one iteration per ALU per cycle; SXM: one per SXM queue per cycle;
//   - MEM issue: one instruction iteration per slice per cycle; MEM bank ports: one access per
//     bank per cycle;
//   - C2C: each link direction (channel) carries one vector per link occupancy;
//   - the dependency chain: Program::dataflow_cycles, the run with every queue, bank, stream
//     and plane free whenever data is ready (the compiler's figure; absent for a program
//     without one).
// The roofline is the largest; fraction = roofline / run length. The busiest single queue is
// reported beside it: a placement that piles work on one queue (one MEM slice holding a table
// every head reads) is a limit of this program's layout, not of the machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpu/arch/floorplan.h"
#include "lpu/arch/system_config.h"
#include "lpu/program/program.h"

namespace lockstep::lpu {

struct RooflineBound {
  std::string resource;     // "weights into the MXM", "dependency chain", ...
  std::uint64_t cycles = 0; // lower bound on the run, cycles @ core clock
  std::string work;         // what was counted, with its rate: "117.7 MB at 20480 B/cycle"
};

struct Roofline {
  std::uint64_t cycles = 0;           // the program's run length (Program::predicted_cycles)
  std::vector<RooflineBound> bounds;  // every resource, then the dependency chain if known
  struct Queue {
    std::string name;            // "mem.w12"
    std::uint64_t iterations = 0;  // it issues (one a cycle at most)
  };
  std::vector<Queue> busiest;    // per unit kind with work (MEM, VXM, SXM, MXM, C2C): its busiest queue

  const RooflineBound& binding() const;  // the largest bound
  // binding().cycles / cycles: how close the schedule is to the machine (1 = at the limit).
  double fraction() const;
};

// link_occupancy_cycles: cycles a vector holds a link direction (topology.h), 0 on a lone chip.
Roofline program_roofline(const Program& program, const ChipConfig& chip, const Floorplan& floorplan,
                          std::uint32_t link_occupancy_cycles = 0);

}  // namespace lockstep::lpu
