// A Program checked against the static rules of the machine and flattened into what the
// simulator's inner loop needs per instruction: stream keys, positions, banks, delays, all
// precomputed, so executing an iteration does no lookup, hashing or allocation.
//
// The static rules are checked first, by the one checker the compiler uses too
// (lpu/program/program_check.h: each violation a MachineRuleViolation naming queue, instruction
// and cycle); this file only flattens. The dynamic rules (stream reads, diagonal conflicts, bank
// ports, MXM readiness) are the simulator's.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "lpu/arch/floorplan.h"
#include "lpu/arch/isa.h"
#include "lpu/program/program.h"
#include "lpu/program/program_check.h"
#include "lpu/arch/system_config.h"

namespace lockstep::lpu {

inline constexpr int kUnitKindCount = static_cast<int>(Unit::C2c) + 1;
inline constexpr int kStreamSlots = 64;      // flat stream index: direction * 32 + index
inline constexpr int kMaxStreamInputs = kMaxLoadStreams;  // LoadWeights reads up to this

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
  std::uint32_t order = 0;  // memory order (program.h), 0: not checked
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
  bool uses_order = false;               // an instruction declares a memory order (program.h)
};

// Checks `program` with check_program, then decodes it for `chip` laid out as `floorplan`.
DecodedProgram decode_program(const Program& program, const ChipConfig& chip,
                              const Floorplan& floorplan);

}  // namespace lockstep::lpu
