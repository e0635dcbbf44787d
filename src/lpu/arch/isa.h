// The instruction set of lockstep's Tensor Streaming Processor model: one table that the
// compiler (to schedule) and the simulator (to execute and check) both read, so they cannot
// disagree. docs/lpu.md explains the machine; this header is the contract.
//
// Granularity is the real chip's: every iteration of an instruction reads and writes whole
// 320-byte vectors on streams, at most one vector per stream per cycle. Lane views of a vector:
//   f32 / i32: 80 lanes of 4 bytes;  f16: 160 lanes of 2 bytes;  i8: 320 lanes of 1 byte.
//
// Timing law (per iteration i of an instruction issued at cycle t, at slice position q):
//   - it reads each input stream at (q, t + i * stride);
//   - it writes its output stream(s) at (q, t + i * stride + delay), where delay is the
//     functional delay of its class (SystemConfig::delays);
//   - a vector written at (p, c) travels one position per cycle in its stream's direction and is
//     readable at (x, c + |x - p|) for every x between p and the write's `reach` (inclusive).
//   MEM WRITE / SCATTER commit to their bank at t + i * stride + delay; MEM READ / GATHER access
//   their bank at t + i * stride.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lockstep::lpu {

enum class Unit : std::uint8_t { Mem, Vxm, Sxm, MxmLoad, MxmCompute, MxmEmit, C2c };
std::string_view unit_name(Unit unit);

// Which functional delay of SystemConfig::delays an opcode takes.
enum class DelayClass : std::uint8_t {
  MemRead, MemWrite, MemGather, MemScatter,
  VxmAlu, VxmTranscendental, VxmConvert,
  Sxm,
  MxmLoadWeights, MxmInstallWeights, MxmCompute, MxmEmit,
  C2cSend, C2cReceive,
};
inline constexpr int kDelayClassCount = 14;
std::string_view delay_class_name(DelayClass delay_class);

enum class Opcode : std::uint8_t {
  // MEM (one queue per slice). `addr` is a vector index in the slice (bank = addr / vectors
  // per bank); iteration i uses addr + i * addr_step.
  Read,     // out[width] <- mem[addr + w * vectors_per_bank] for w < width (width 1 or 2 banks)
  Write,    // mem[addr + w * vectors_per_bank] <- in[0] stream w (width 1 or 2)
  Gather,   // in0: index vector (i32 lane 0 = row r). If imm2 <= r < imm2 + imm3:
            //   out <- mem[addr + (r - imm2) * imm + i * addr_step], else out <- zero vector.
  Scatter,  // in0: index vector (i32 lane 0 = row r), in1: data. If imm2 <= r < imm2 + imm3:
            //   mem[addr + (r - imm2) * imm + i * addr_step] <- data, else nothing is written.
  // VXM (16 ALU queues at the centre). f32 lanes unless stated; results rounded to f32 after
  // each operation (no fused multiply-add).
  Add, Sub, Mul, Div, Max, Min,  // out = in0 (op) in1
  MulAdd,                        // out = (in0 * in1) + in2, rounded after the multiply
  Select,                        // out = in0 != 0 ? in1 : in2 (in0 lanes as f32)
  Equal,                         // out = in0 == in1 ? 1.0 : 0.0
  AddImm, MulImm,                // out = in0 (op) fimm
  Abs, Exp, Rsqrt, Move,         // out = f(in0)
  ConvertF32ToF16,               // out.f16[l] = in0.f32[l], out.f16[80 + l] = in1.f32[l] (RNE)
  ConvertF16ToF32,               // out.f32[l] = in0.f16[imm * 80 + l], imm 0 (low) or 1 (high)
  ConvertF32ToI8,                // out.i8[80 * k + l] = sat(round_even(in_k.f32[l])), k < 4;
                                 //   sat: symmetric [-127, 127]; NaN -> 0 (vector_alu.h)
  ConvertI32ToF32,               // out.f32[l] = (float) in0.i32[l]
  // SXM (one queue per hemisphere, beside the MXM). f32 lanes.
  Rotate,      // out.f32[l] = in0.f32[(l + imm) mod 80]
  Distribute,  // out.f32[l] = in0.f32[imm] for every l
  // MXM, per plane: a 320-row weight buffer, an installed array, accumulator rows.
  LoadWeights,     // buffer rows [addr + i * width, + width) <- streams in0 .. in0 + width - 1
  InstallWeights,  // array <- buffer; imm = ElementType (I8: 320 x 320, F16: 320 rows x 160)
  Compute,         // acc[addr + i * addr_step] (= if imm == 0, += if imm == 1) array x in0,
                   //   i8 x i8 -> i32 (K = 320), f16 x f16 -> f32 (K = 160), k in index order
                   //   (exact order and rounding: mxm_arithmetic.h)
  Emit,            // out streams out .. out + 3 <- acc[addr + i * addr_step] (320 x 4 bytes)
  // C2C (chip to chip): one transmit and one receive queue per channel ("c2c.3.tx",
  // "c2c.3.rx"). A channel is a logical link: the system program maps each chip's channels onto
  // its physical links (lpu/system_program.h), so that the chips of a tensor-parallel group can
  // run one program. Link timing belongs to the system (lpu/topology.h): a vector occupies its
  // link for link_occupancy_cycles and arrives link_transfer_cycles after it left.
  Send,     // in0 -> the channel's link; departs at the iteration's issue cycle
  Receive,  // out <- the next vector that arrived on the channel's link (in arrival order); it
            //   must have arrived at or before the iteration's issue cycle
};
inline constexpr int kOpcodeCount = static_cast<int>(Opcode::Receive) + 1;

enum class ElementType : std::uint8_t { F32, F16, I8, I32 };

// One row of the ISA table.
struct OpcodeInfo {
  Opcode opcode;
  std::string_view mnemonic;  // as written in assembly, lower case
  Unit unit;
  DelayClass delay_class;
  std::uint8_t stream_inputs;   // input streams read per iteration (LoadWeights: `width`)
  std::uint8_t stream_outputs;  // output streams written per iteration (Read: `width`, Emit: 4)
  bool width_scales_inputs;     // inputs read = width (LoadWeights, Write)
  bool width_scales_outputs;    // outputs written = width (Read)
  bool reads_memory;            // accesses a bank at issue
  bool writes_memory;           // commits to a bank at issue + delay
};

const OpcodeInfo& opcode_info(Opcode opcode);
std::optional<Opcode> opcode_from_mnemonic(std::string_view mnemonic);

// A stream register: 32 flow east (towards higher positions), 32 flow west.
enum class Direction : std::uint8_t { East = 0, West = 1 };
struct StreamId {
  Direction direction = Direction::East;
  std::uint8_t index = 0;  // < SystemConfig::streams_per_direction
  friend bool operator==(const StreamId&, const StreamId&) = default;
};

}  // namespace lockstep::lpu
