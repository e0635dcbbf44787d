// A compiled program for one chip: per instruction queue, the instructions in issue order, each
// with the cycle of its first iteration. Plus the memory image the program expects (weights and
// constants placed by the compiler) and the named host buffers (inputs written before a run,
// outputs read after it). Serialised by program_binary.h and program_asm.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpu/arch/isa.h"

namespace lockstep::lpu {

inline constexpr std::uint8_t kNoStream = 0xFF;

// Streams are encoded in one byte: bit 5 = direction (0 east, 1 west), bits 0-4 = index;
// kNoStream = unused operand.
inline std::uint8_t encode_stream(StreamId s) {
  return static_cast<std::uint8_t>((static_cast<int>(s.direction) << 5) | s.index);
}
inline StreamId decode_stream(std::uint8_t byte) {
  return {static_cast<Direction>((byte >> 5) & 1), static_cast<std::uint8_t>(byte & 31)};
}

struct Instruction {
  std::uint64_t cycle = 0;    // issue cycle of iteration 0, cycles @ core clock
  std::uint32_t repeat = 1;   // iterations (ICU Repeat n), >= 1
  std::uint16_t stride = 1;   // cycles between iterations (Repeat d), >= 1
  Opcode opcode = Opcode::Move;
  std::uint8_t width = 1;     // LoadWeights: streams per cycle; Read/Write: banks (1 or 2)
  std::uint8_t in[4] = {kNoStream, kNoStream, kNoStream, kNoStream};  // encoded StreamIds
  std::uint8_t out = kNoStream;  // first output stream (Emit: 4 consecutive; Read: width)
  std::uint8_t reach = 0;     // farthest position (inclusive) the outputs are meant for
  std::uint32_t addr = 0;     // MEM: vector address; MXM: buffer / accumulator row
  std::int32_t addr_step = 0; // added to addr per iteration
  std::int32_t imm = 0;       // lane, rotate amount, gather row stride, ElementType, flags
  std::int32_t imm2 = 0;      // gather / scatter: first row held by this slice
  std::int32_t imm3 = 0;      // gather / scatter: rows held by this slice
  float fimm = 0.0f;          // VXM immediate (AddImm, MulImm)

  friend bool operator==(const Instruction&, const Instruction&) = default;
  std::uint64_t last_issue() const { return cycle + std::uint64_t{repeat - 1} * stride; }
};

// Bytes the compiler places in MEM before the first run (weights, constants).
struct MemorySegment {
  int slice = 0;                 // global MEM slice
  std::uint32_t addr = 0;        // first vector
  std::vector<std::uint8_t> bytes;  // whole vectors: size = n * vector_bytes
  friend bool operator==(const MemorySegment&, const MemorySegment&) = default;
};

// A tensor the host exchanges with the chip around each run: `vectors` consecutive vectors
// from (slice, addr). Inputs are written before a run, outputs read after it.
struct HostBuffer {
  std::string name;              // "token", "rope.cos", "logits", ...
  bool is_input = true;
  int slice = 0;
  std::uint32_t addr = 0;
  std::uint32_t vectors = 0;
  ElementType type = ElementType::F32;
  std::uint32_t elements = 0;    // meaningful elements (the rest of the last vector is padding)
  friend bool operator==(const HostBuffer&, const HostBuffer&) = default;
};

struct Program {
  std::string system;            // SystemConfig::name it was compiled for
  std::string description;       // "decode llama-kjv position 17", free text
  // The compiler's prediction of the run's length, cycles @ core clock. A run lasts from cycle 0
  // to the cycle after the last effect of any iteration (its output write at issue + delay, or
  // its bank commit), plus superlanes - 1 cycles for the superlane stagger to drain: every
  // vector passes a slice superlane by superlane, one cycle apart, which delays every unit of
  // the chip alike and so shifts no dependence, only the end.
  std::uint64_t predicted_cycles = 0;
  std::vector<std::vector<Instruction>> queues;  // [queue id] -> instructions in issue order
  std::vector<MemorySegment> memory;
  std::vector<HostBuffer> buffers;

  friend bool operator==(const Program&, const Program&) = default;
  std::uint64_t instruction_count() const;   // entries, Repeat counted once
  std::uint64_t iteration_count() const;     // Repeat expanded
};

}  // namespace lockstep::lpu
