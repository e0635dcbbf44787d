// A compiled program for one chip: per instruction queue, the instructions in issue order, each
// with the cycle of its first iteration. Plus the memory image the program expects (weights and
// constants placed by the compiler), the host buffers (inputs written before a run, outputs
// read after it) with their roles, and the host interface that says how to fill and read them.
// Serialised by program_binary.h and program_asm.h.
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
  // The instruction's place in the program's sequential meaning (memory order): the compiler's
  // group number, 1, 2, ... in the order it lowered them, shared by the instructions of one
  // group (a group's reads of an iteration come before its writes). MEM holds what it would
  // hold if the groups ran one after another in this order; the simulator checks that the
  // schedule keeps it (simulator.h: memory data hazards). 0: no declared order, not checked.
  std::uint32_t order = 0;

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

// What a host buffer holds, so that the host fills and reads it from the Program alone
// (host_interface.h). Shapes are per run of HostInterface::rows rows (tokens); every input role
// gives each row the same number of vectors (vectors / rows), row t's first. `lanes` =
// HostInterface::lanes fp32 elements per vector.
enum class HostRole : std::uint8_t {
  Unspecified = 0,  // known to the host by its name only (a GEMM's operands)
  TokenId,          // input [rows] x 1 vector i32: lane 0 = token id - HostShard::token_first
  Position,         // input [rows] x 1 vector i32: lane 0 = the row's position
  PositionBlock,    // input [rows] x 1 vector i32: lane 0 = position / lanes
  PositionLane,     // input [rows] x 1 vector f32: one-hot, 1.0 at lane position % lanes
  RopeCos,          // input [rows] x 1 vector f32: lanes i < head_dim / 2 = cos(angle(pos, i))
  RopeSin,          // input [rows] x 1 vector f32: lanes i < head_dim / 2 = sin(angle(pos, i))
  AttentionMask,    // input [rows] x blocks vectors f32: element j = 0 if j <= position, else -inf
  LogitsStripe,     // output: stripe `stripe` of the logits, f32 (HostInterface says the layout)
};
inline constexpr int kHostRoleCount = static_cast<int>(HostRole::LogitsStripe) + 1;

// A tensor the host exchanges with the chip around each run: `vectors` consecutive vectors
// from (slice, addr). Inputs are written before a run, outputs read after it.
struct HostBuffer {
  std::string name;              // "token", "rope.cos", "logits.0", ...
  bool is_input = true;
  int slice = 0;
  std::uint32_t addr = 0;
  std::uint32_t vectors = 0;
  ElementType type = ElementType::F32;
  std::uint32_t elements = 0;    // meaningful elements (the rest of the last vector is padding)
  HostRole role = HostRole::Unspecified;
  std::uint32_t stripe = 0;      // LogitsStripe: which of the logits' stripes (else 0)
  friend bool operator==(const HostBuffer&, const HostBuffer&) = default;
};

// The facts of a host interface that differ between chips running one program (the ranks of a
// tensor-parallel stage): a system program keeps one per chip (system_program.h).
struct HostShard {
  std::int64_t token_first = 0;  // embedding row 0 holds this token id: TokenId gets id - this
  std::int64_t vocab_first = 0;  // logits column j is vocabulary id vocab_first + j
  friend bool operator==(const HostShard&, const HostShard&) = default;
};

// RoPE as the host computes its angles (model::rope_angle, restated so the host needs no model):
// angle(pos, i) = (pos / linear_scale) * theta^(-2i / head_dim) / freq_factors[i], in double,
// rounded to float once after cos / sin.
struct HostRope {
  std::int64_t head_dim = 0;
  double theta = 10000.0;
  double linear_scale = 1.0;
  std::vector<float> freq_factors;  // [head_dim / 2], or empty (all 1)
  friend bool operator==(const HostRope&, const HostRope&) = default;
};

// What the host needs, beyond the buffers' roles, to run a model step: rows = 0 means the
// program is not one (a GEMM, a test program) and the host knows its buffers by name.
// The logits of a run are [rows][vocab_rows] f32 laid out as rows of logits_stride vectors,
// vector u = row * logits_stride + v holding columns v * lanes ..; vector u sits in stripe
// u % logits_stripes, as its (u / logits_stripes)-th vector.
struct HostInterface {
  std::uint32_t rows = 0;           // tokens per run (1: a decode step; T: a prefill chunk)
  std::uint32_t vector_bytes = 0;   // bytes per vector
  std::uint32_t lanes = 0;          // fp32 elements per vector
  std::int64_t context = 0;         // positions the KV cache holds: pos + rows <= context
  std::int64_t n_vocab = 0;         // the model's vocabulary: token ids 0 .. n_vocab - 1
  HostShard shard;                  // this program's own chip (a system overrides it per chip)
  std::int64_t vocab_rows = 0;      // logits columns computed here (0: no logits)
  std::uint32_t logits_stride = 0;  // vectors per logits row
  std::uint32_t logits_stripes = 0; // MEM slices the logits are striped over
  HostRope rope;
  friend bool operator==(const HostInterface&, const HostInterface&) = default;
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
  // The compiler's dependency-chain bound, cycles @ core clock: how long the run would last with
  // every queue, bank port, stream and MXM plane free whenever data is ready (only the data
  // dependences of these instructions and their delays, the run-length definition above).
  // 0: not known. program_roofline.h reads it.
  std::uint64_t dataflow_cycles = 0;
  std::vector<std::vector<Instruction>> queues;  // [queue id] -> instructions in issue order
  std::vector<MemorySegment> memory;
  std::vector<HostBuffer> buffers;
  HostInterface host;            // how the host drives the buffers (host_interface.h)

  friend bool operator==(const Program&, const Program&) = default;
  std::uint64_t instruction_count() const;   // entries, Repeat counted once
  std::uint64_t iteration_count() const;     // Repeat expanded
};

}  // namespace lockstep::lpu
