// A Program checked against the static rules of the machine and flattened into what the
// simulator's inner loop needs per instruction: stream keys, positions, banks, delays, all
// precomputed, so executing an iteration does no lookup, hashing or allocation.
//
// Static rules checked here (each violation is a MachineRuleViolation naming queue, instruction
// and cycle): the program has no more queues than the floorplan; each opcode runs on its queue's
// unit; repeat >= 1 and stride >= 1; each queue issues in order (an instruction's first cycle
// comes after the previous one's last iteration); every operand stream the opcode uses exists
// (consecutive ranges included) and every operand it does not use is kNoStream; a write's reach
// lies downstream of its position (east: reach >= position, west: reach <= position) on the
// chip; width is 1 or 2 for Read/Write, 1..mxm_load_streams for LoadWeights and 1 otherwise;
// every MEM address of every iteration lies in its slice (width 2: in bank 0, with its twin in
// bank 1), and the rows a Gather/Scatter may touch lie in one bank; MXM buffer and accumulator
// rows exist; immediates are in range (InstallWeights: I8 or F16; Compute: 0 overwrite or
// 1 accumulate; ConvertF16ToF32: 0 or 1; Distribute: a lane); Send runs only on a C2C
// transmit queue ("c2c.N.tx") and Receive only on a receive queue ("c2c.N.rx").
// The dynamic rules (stream reads, diagonal conflicts, bank ports, MXM readiness) are the
// simulator's.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "lpu/arch/floorplan.h"
#include "lpu/arch/isa.h"
#include "lpu/program/program.h"
#include "lpu/arch/system_config.h"

namespace lockstep::lpu {

inline constexpr int kUnitKindCount = static_cast<int>(Unit::C2c) + 1;
inline constexpr int kStreamSlots = 64;      // flat stream index: direction * 32 + index
inline constexpr int kMaxStreamInputs = 16;  // LoadWeights reads up to mxm_load_streams <= 16

inline int flat_stream(StreamId s) { return static_cast<int>(s.direction) * 32 + s.index; }
inline StreamId stream_of_flat(int flat) {
  return {static_cast<Direction>(flat >> 5), static_cast<std::uint8_t>(flat & 31)};
}

struct DecodedInstruction {
  std::int64_t cycle = 0;   // issue cycle of iteration 0, cycles @ core clock
  std::int64_t stride = 1;  // cycles between iterations
  std::uint32_t repeat = 1;
  Opcode opcode = Opcode::Move;
  std::uint8_t width = 1;
  std::int32_t queue = 0;     // queue id
  std::int32_t index = 0;     // position in its queue (for messages)
  std::int32_t position = 0;  // slice position on the axis
  std::int32_t delay = 1;     // functional delay, cycles

  // Inputs: stream i (flat index) is read at diagonal key cycle + in_key_offset[i]
  // (east: key = cycle - position, west: key = cycle + position).
  std::uint8_t inputs = 0;
  std::array<std::uint8_t, kMaxStreamInputs> in_stream{};
  std::array<std::int32_t, kMaxStreamInputs> in_key_offset{};

  // Outputs: streams out_stream .. out_stream + outputs - 1 (flat, one direction), written on
  // diagonal key cycle + out_key_offset, over positions [segment_lo, segment_hi].
  std::uint8_t outputs = 0;
  std::uint8_t out_stream = 0;
  std::int32_t out_key_offset = 0;
  std::uint8_t segment_lo = 0;
  std::uint8_t segment_hi = 0;

  // MEM: slice, first address, per-iteration step. Bank of iteration i: fixed_bank when >= 0,
  // else (addr + i * addr_step) / vectors_per_bank. bank_base = slice * banks_per_slice.
  std::int32_t slice = -1;
  std::int32_t bank_base = 0;
  std::int32_t fixed_bank = -1;
  std::int64_t addr = 0;
  std::int64_t addr_step = 0;

  // MXM: global plane index.
  std::int32_t plane = -1;

  // C2C: the queue's channel (0 .. kC2cChannels - 1).
  std::int32_t channel = -1;

  std::int32_t imm = 0;
  std::int32_t imm2 = 0;
  std::int32_t imm3 = 0;
  float fimm = 0.0f;
};

struct DecodedProgram {
  std::vector<DecodedInstruction> instructions;  // every queue's, concatenated in queue order
  std::vector<std::uint32_t> queue_begin;        // [queue id + 1]: queue q owns
                                                 // instructions [queue_begin[q], [q + 1])
  // Static figures of a complete run (every iteration executes exactly once).
  std::uint64_t cycles = 0;  // run length, program.h's definition
  std::uint64_t iterations = 0;
  std::array<std::uint64_t, kUnitKindCount> unit_iterations{};  // [Unit]
  std::vector<std::uint64_t> queue_iterations;                  // [queue id]
  std::uint64_t stream_vector_hops = 0;  // sum over stream writes of positions covered
  std::uint64_t mem_bank_accesses = 0;   // bank reads and commits (width 2 counts two)
  int max_output_delay = 1;              // largest delay of an instruction that writes streams
  int max_memory_delay = 1;              // largest delay of a MEM instruction
  bool uses_links = false;               // holds a C2C instruction (needs a LinkPort to run)
};

// Checks the static rules above and decodes `program` for `chip` laid out as `floorplan`.
DecodedProgram decode_program(const Program& program, const ChipConfig& chip,
                              const Floorplan& floorplan);

// A run's length in cycles @ core clock by program.h's definition: the cycle after the last
// effect (issue + delay) of any iteration, plus superlanes - 1; 0 for an empty program. The
// compiler's prediction must equal it. Does not check the program.
std::uint64_t program_run_cycles(const Program& program, const ChipConfig& chip);

}  // namespace lockstep::lpu
