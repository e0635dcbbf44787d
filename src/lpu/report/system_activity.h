// What every chip of a system does, when: the activity of one run of a SystemProgram
// (system_program.h), cheap enough for 576 chips. Each distinct program is simulated once in
// timing mode (simulator.h) with a TraceSink that records its instructions' iterations per unit
// kind and a LinkPort that accepts every Send (recording its channel and cycle) and answers every
// Receive with no data. The link rules are not checked here (system_simulator.h does that); the
// program only has to run. Every chip's activity is then its program's, shifted by its
// start_cycle onto the system clock and binned there, so a chip's bins are exact.
//
// Bins: bin b covers system cycles [b * bin_cycles, (b + 1) * bin_cycles). busy[unit][i] counts
// the iterations of that unit kind (isa.h's Unit) the chip issues in bin first_bin + i; summed
// over a chip's bins they equal SimulationResult::unit_iterations of its program's run.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lpu/sim/decoded_program.h"
#include "lpu/sim/simulator.h"
#include "lpu/arch/system_config.h"
#include "lpu/program/system_program.h"

namespace lockstep::lpu {

struct LinkSend {
  std::int64_t cycle = 0;  // system cycle the vector departs
  int link = 0;            // link of the sending chip (ChipAssignment::channel_links)
};

struct ChipActivity {
  int chip = 0;              // topology chip id
  int program = 0;           // index into SystemProgram::programs
  std::int64_t start = 0;    // system cycle of its program's cycle 0
  std::int64_t end = 0;      // start + its program's run length, system cycles
  std::int64_t first_bin = 0;  // system bin of busy[.][0]: start / bin_cycles
  // [Unit][bin - first_bin] iterations issued in the bin; bins first_bin .. (end - 1) / bin_cycles
  std::array<std::vector<std::uint32_t>, kUnitKindCount> busy;
  std::vector<LinkSend> sends;  // in cycle order
  std::int64_t bins() const { return static_cast<std::int64_t>(busy[0].size()); }
};

struct SystemActivity {
  std::int64_t bin_cycles = 1;
  double clock_hz = 1e9;                // the system clock (the chips')
  std::uint64_t cycles = 0;             // system cycles: max over chips of end
  std::int64_t link_occupancy = 1;      // cycles one vector occupies a link (topology.h)
  std::array<int, kUnitKindCount> queues{};  // [Unit] instruction queues of that kind per chip
  std::vector<SimulationResult> programs;    // [program] its timing run
  std::vector<ChipActivity> chips;           // [chip assignment], SystemProgram::chips' order
  std::int64_t bin_count() const { return (static_cast<std::int64_t>(cycles) + bin_cycles - 1) / bin_cycles; }
  // Share of the bin's capacity (bin_cycles x the kind's queues) a chip's `unit` kind was busy,
  // 0 outside the chip's bins. bin: system bin.
  double busy_fraction(const ChipActivity& chip, Unit unit, std::int64_t bin) const;
  // Share of the bin the chip's busiest link is occupied by its Sends that depart in the bin
  // (sends x link_occupancy / bin_cycles; may exceed 1 when a Send's occupancy runs past the bin).
  double send_fraction(const ChipActivity& chip, std::int64_t bin) const;
};

// The bin width giving about `target_bins` bins over `cycles` (at least 1 cycle).
std::int64_t choose_bin_cycles(std::uint64_t cycles, std::int64_t target_bins = 1500);

// Simulates each distinct program of `program` once (timing mode; a lockstep::Error or
// MachineRuleViolation from a chip rule propagates) and bins every chip's activity.
// bin_cycles: > 0, or 0 to choose ~1500 bins over the run.
SystemActivity record_system_activity(const SystemProgram& program, const SystemConfig& system,
                                      std::int64_t bin_cycles = 0);

// Where a chip sits in the pipeline, for the pictures (system_timeline.h).
struct PipelinePlace {
  int stage = -1;  // -1: in no stage of the grouping
  int rank = 0;
  std::string label() const;  // "stage 3 rank 0", or "" in no stage
};
// [chip assignment] -> its stage and rank in `stages` (compiler::SystemDecode::stages(); chips by
// topology id). Empty `stages`: every chip in no stage.
std::vector<PipelinePlace> pipeline_places(const SystemProgram& program, std::span<const StageInfo> stages);
// The chip assignments in picture order: stage by stage, rank by rank, then those in no stage.
std::vector<std::size_t> picture_order(const std::vector<PipelinePlace>& places);

}  // namespace lockstep::lpu
