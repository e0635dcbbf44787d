// The simulator of one chip. A Chip holds the machine's persistent state (MEM contents, MXM
// weight buffers, installed arrays and accumulators), so a program can run step after step with
// the KV cache left in MEM between runs. run() executes a Program:
//   - Functional mode computes every vector (vector_alu.h, mxm_arithmetic.h) and leaves results
//     in MEM for read_buffer() (e.g. the logits).
//   - Timing mode carries no payloads and needs no MEM contents; it only counts cycles.
// Both modes check every rule of the machine while running, and throw MachineRuleViolation (one
// sentence: rule, queue, instruction, iteration, cycle) at the first one broken:
//   - the static rules of decoded_program.h, before the first iteration;
//   - a stream read finds a vector written for it: some write on the read's diagonal whose
//     segment [position, reach] contains the reader's position;
//   - no two writes on one stream and diagonal overlap (they would hold one register at once);
//   - each MEM bank serves at most one access per cycle: Read / Gather at issue, Write / Scatter
//     commit at issue + delay; width 2 uses both banks. Gather and Scatter book the bank of
//     addr + i * addr_step (every row they may touch is in that bank), whatever the index, so
//     the check is the same in both modes;
//   - InstallWeights at cycle c: every buffer row below its row count (addr) was loaded after
//     the previous install's cycle, and its latest load is ready (LoadWeights issue + delay <= c);
//     a load issued in the install's own cycle lands after it and counts for the next install;
//   - Compute at cycle t: the plane has an installed array, ready (install + delay <= t);
//     accumulating (imm 1) needs the row to hold a result of the same element type;
//   - Emit at cycle t: the row holds a Compute result of this run, and its latest Compute is
//     ready (compute issue + delay <= t). So an Emit of a row with a Compute in flight is refused.
//   - memory order (memory_order.h): with the instructions' declared order (program.h), every
//     MEM read finds the value the program's sequential meaning gives it: no read before the
//     write it relies on has committed, no write over data not yet read;
//   - C2C: a Send iteration at t reads its input like a VXM op and hands the vector to the
//     chip's LinkPort (link_port.h) at t; a Receive iteration at t takes the port's next vector
//     and writes it like a VXM op (at t + delay). The link rules are the port's (the system's,
//     system_simulator.h); a C2C instruction on a chip run without a port is refused.
// Execution order: iterations in nondecreasing issue cycle; within one cycle, queue by queue in
// a fixed order (MXM emit, then compute/install, then load queues, so that state an iteration
// reads in cycle c is the state before any effect issued in c). No result depends on it: every
// effect lands at issue + delay >= issue + 1. Functional MEM: a commit at cycle c is visible to
// reads from cycle c + 1.
// MXM readiness state (loaded rows, installed array, computed rows) starts empty at every run:
// a program's legality does not depend on the runs before it. The contents persist.
// The run's length follows program.h's definition; it is checked against the compiler's
// prediction (Program::predicted_cycles, when nonzero): a mismatch is a lockstep::Error.
// Runs are deterministic: the same program and state give the same cycles and bits every time.
// If run() throws, functional MEM may hold the effects of the iterations before the violation.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lpu/sim/decoded_program.h"
#include "lpu/arch/floorplan.h"
#include "lpu/sim/link_port.h"
#include "lpu/program/machine_rule_violation.h"
#include "lpu/sim/mxm_arithmetic.h"
#include "lpu/program/program.h"
#include "lpu/arch/system_config.h"
#include "lpu/sim/trace_sink.h"

namespace lockstep::lpu {

class Execution;

enum class SimulationMode : std::uint8_t { Timing, Functional };

struct SimulationResult {
  std::uint64_t cycles = 0;        // run length, cycles @ core clock (program.h's definition)
  std::uint64_t instructions = 0;  // instructions issued (Repeat counted once)
  std::uint64_t iterations = 0;    // iterations executed (Repeat expanded)
  std::array<std::uint64_t, kUnitKindCount> unit_iterations{};  // [Unit] iterations, busy
  std::vector<std::uint64_t> queue_iterations;                  // [queue id] iterations, busy
  std::uint64_t stream_vector_hops = 0;  // sum over stream writes of positions covered
                                         // (|reach - position| + 1): register-cycles occupied
  std::uint64_t mem_bank_accesses = 0;   // bank reads and commits (width 2 counts two)
  friend bool operator==(const SimulationResult&, const SimulationResult&) = default;
};

class Chip {
 public:
  explicit Chip(const ChipConfig& config);
  ~Chip();
  Chip(const Chip&) = delete;
  Chip& operator=(const Chip&) = delete;

  const ChipConfig& config() const { return config_; }
  const Floorplan& floorplan() const { return floorplan_; }

  // Writes the program's MemorySegments (weights, constants) into MEM.
  void load_memory(const Program& program);
  // Host buffers: `vectors` consecutive vectors from (slice, addr). write_buffer takes at most
  // vectors * vector_bytes bytes and zero-fills the rest; read_buffer returns all of them.
  void write_buffer(const HostBuffer& buffer, std::span<const std::uint8_t> bytes);
  std::vector<std::uint8_t> read_buffer(const HostBuffer& buffer) const;
  // One MEM vector, [vector_bytes] bytes (zeros if never written).
  std::vector<std::uint8_t> read_vector(int slice, std::uint32_t addr) const;
  void write_vector(int slice, std::uint32_t addr, std::span<const std::uint8_t> bytes);

  // Executes `program` (see the file comment). trace, if given, receives the timeline; links,
  // if given, carries the C2C instructions' vectors (a program with C2C instructions needs it).
  SimulationResult run(const Program& program, SimulationMode mode, TraceSink* trace = nullptr,
                       LinkPort* links = nullptr);
  // The static checks and decoding of run(), done once for a program that runs many times
  // (a decode step per token); run(decoded, program, ...) then only executes. `decoded` must
  // come from decode(program) on a chip of the same configuration.
  DecodedProgram decode(const Program& program) const;
  SimulationResult run(const DecodedProgram& decoded, const Program& program, SimulationMode mode,
                       TraceSink* trace = nullptr, LinkPort* links = nullptr);

  // Functional MXM state of a plane, for tests and debugging: one accumulator row,
  // [mxm_plane_rows] 4-byte lanes.
  std::vector<std::uint8_t> read_accumulator(int plane, int row) const;

 private:
  friend class Execution;
  struct Plane {                            // functional contents of one MXM plane
    std::vector<std::uint8_t> buffer;       // [mxm_plane_rows][vector_bytes]
    MxmArray array;                         // installed weights
    std::vector<std::uint8_t> accumulator;  // [mxm_accumulator_rows][mxm_plane_rows * 4]
  };

  std::uint8_t* mem_vector(int slice, std::int64_t addr);  // allocates the slice on first use
  const std::uint8_t* mem_vector_if_present(int slice, std::int64_t addr) const;
  Plane& plane(int index);  // allocates on first use
  void check_range(int slice, std::int64_t addr, std::int64_t vectors, const char* what) const;

  ChipConfig config_;
  Floorplan floorplan_;
  std::int64_t slice_vectors_;
  std::vector<std::unique_ptr<std::uint8_t[]>> mem_;  // [slice] -> [slice_vectors][vector_bytes]
  std::vector<std::unique_ptr<Plane>> planes_;
};

// A run that executes in steps, so that a system can advance its chips together (Chip::run is
// one ChipRun advanced to the end). The constructor checks that a program with C2C instructions
// has a port (MachineRuleViolation otherwise) and starts the trace; chip, decoded, program,
// links and trace must outlive the run. Cycles are the program's own.
class ChipRun {
 public:
  ChipRun(Chip& chip, const DecodedProgram& decoded, const Program& program, SimulationMode mode,
          LinkPort* links, TraceSink* trace = nullptr);
  ~ChipRun();
  ChipRun(const ChipRun&) = delete;
  ChipRun& operator=(const ChipRun&) = delete;

  // Executes every iteration whose issue cycle is < until_cycle; true while iterations remain.
  bool advance(std::int64_t until_cycle);
  // Executes the rest, ends the trace and checks the length against Program::predicted_cycles
  // (lockstep::Error on a mismatch), as Chip::run does. Once.
  SimulationResult finish();

 private:
  const DecodedProgram& decoded_;
  const Program& program_;
  TraceSink* trace_;
  std::unique_ptr<Execution> execution_;
  bool (Execution::*advance_)(std::int64_t) = nullptr;  // the mode's instantiation
  bool finished_ = false;
};

}  // namespace lockstep::lpu
