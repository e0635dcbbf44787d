// A compiled program for a system of chips: the distinct chip programs, and for every chip that
// takes part, which program it runs, from which cycle of the system's clock, and onto which
// physical link each of its C2C channels is mapped. Chips of one tensor-parallel group (or one
// pipeline stage shape) share a program: they differ only in their channel maps and, for a
// functional run, in the memory image (their shard of the weights) given by `memory`.
//
// Time: the system runs on one clock (the synchronous domain of FACTS.md); a chip's program
// cycle c happens at system cycle start_cycle + c. A Send on chip A, channel k, at system cycle
// t puts one vector on link channel_links[k] of A; it arrives at the link's other end at
// t + the topology's link_transfer_cycles(vector_bytes) (plus the Ethernet latency when the link
// joins two synchronous domains: system_simulator.h) and occupies the link for
// link_occupancy_cycles(vector_bytes) from t (lpu/topology.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program.h"

namespace lockstep::lpu {

inline constexpr int kUnmappedChannel = -1;

struct ChipAssignment {
  int chip = 0;                 // topology chip id
  int program = 0;              // index into SystemProgram::programs
  std::int64_t start_cycle = 0; // system cycle of the program's cycle 0
  std::array<int, kC2cChannels> channel_links;  // [channel] -> link of `chip`, or kUnmappedChannel
  std::vector<MemorySegment> memory;            // this chip's own memory image (functional),
                                                // loaded after the program's shared one
  HostShard host;               // this chip's token and vocabulary offsets (host_interface.h)
  std::string role;             // for people: "stage 3 rank 0 (ingress)"
  ChipAssignment() { channel_links.fill(kUnmappedChannel); }
};

struct SystemProgram {
  std::string system;                  // SystemConfig::name
  std::string description;
  std::vector<Program> programs;       // distinct chip programs
  std::vector<ChipAssignment> chips;   // every chip that takes part
  std::uint64_t predicted_cycles = 0;  // system cycles from 0 to the end of the last program
};

// One pipeline stage of a system program, as the compiler laid it out: the units of the model
// it holds, its chips, where its programs start on the system clock and how long they run.
// Reports (lpu/report) draw the pipeline from it.
struct StageInfo {
  int first_unit = 0, end_unit = 0;  // units [first, end) (the compiler's numbering)
  std::vector<int> chips;            // [rank] -> topology chip id; rank 0 is the ingress (it
                                     // receives x and forwards it), rank P - 1 the egress
  std::uint64_t sram_bytes = 0;      // placed per chip (the largest rank)
  std::int64_t start_cycle = 0;      // system cycle of its programs' cycle 0
  std::uint64_t cycles = 0;          // its longest program
};

}  // namespace lockstep::lpu
