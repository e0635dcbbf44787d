// The one static checker of a Program for one chip: the structural rules that must hold before
// a program can be scheduled against or executed. The compiler calls check_program after
// scheduling (its verifier); the simulator calls it on load (decode_program in
// lpu/sim/decoded_program.h, before flattening), so both refuse the same programs. Timing
// conflicts between queues (two writes on one stream diagonal, a read before its value arrives,
// a bank used twice in a cycle) are the simulator's; these rules are per instruction, per queue
// and per memory image.
//
// Rules (each violation is a MachineRuleViolation, a lockstep::Error, naming the queue, the
// instruction index, its mnemonic and issue cycle, and the rule):
//   - the program has floorplan.queue_count() queues (or is Program{}: nothing at all);
//   - every opcode exists and belongs to its queue's unit, with a functional delay >= 1;
//   - repeat >= 1, stride >= 1, and the last iteration issues before kMaxProgramCycle;
//   - a queue's instructions are in issue order and do not overlap:
//     next.cycle > previous.last_issue();
//   - width (isa.h's table): LoadWeights 1..min(mxm_load_streams, kMaxLoadStreams); Read / Write
//     1 or 2 banks, and no more than banks_per_slice (width 2 touches addr and its twin one bank
//     up); every other opcode 1;
//   - stream operands exactly as the ISA table says: the inputs and output it uses are present
//     (a stream byte < 64), the ones it does not use are kNoStream; a group of consecutive
//     streams (LoadWeights / Write inputs: width; Read output: width; Emit output: 4) ends
//     below streams_per_direction;
//   - an output's `reach` lies in its stream's direction from the queue's position (the
//     position itself included) and below floorplan.positions();
//   - MEM: every iteration's address (Read / Write: addr + i * addr_step, plus
//     (width - 1) * vectors_per_bank; Gather / Scatter: addr + i * addr_step + r * imm for the
//     imm3 >= 0 rows r held, row stride imm >= 0) is within the slice; width 2 needs every
//     address in bank 0; the rows one Gather / Scatter iteration may touch share one bank;
//   - MXM: LoadWeights rows addr + i * width + w < mxm_plane_rows; Compute / Emit accumulator
//     rows addr + i * addr_step in [0, mxm_accumulator_rows), Compute imm 0 (overwrite) or 1
//     (accumulate); InstallWeights installs addr rows in 0..mxm_plane_rows (0: only the
//     array's element type changes) of element type imm, I8 or F16;
//   - C2C: Send only on a channel's transmit queue (c2c.N.tx), Receive only on its receive
//     queue (c2c.N.rx);
//   - Rotate / Distribute lane imm in [0, fp32 lanes); ConvertF16ToF32 imm 0 or 1;
//   - memory segments lie in an existing slice, hold whole vectors and do not overlap;
//   - host buffers lie in an existing slice, their elements fit their vectors, names are unique,
//     and a model step's roles fit its host interface (host_interface.h).
#pragma once

#include <cstdint>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program.h"
#include "lpu/arch/system_config.h"

namespace lockstep::lpu {

// Issue cycles stay below this, so cycle arithmetic cannot overflow (2^48 cycles are more than
// three days at 900 MHz).
inline constexpr std::uint64_t kMaxProgramCycle = std::uint64_t{1} << 48;

// The most streams one LoadWeights reads per cycle, whatever the chip's mxm_load_streams (the
// simulator keeps an instruction's inputs in an array this long).
inline constexpr int kMaxLoadStreams = 16;

void check_program(const Program& program, const ChipConfig& chip, const Floorplan& floorplan);

// The cycle a run of `program` ends at, by the definition of Program::predicted_cycles:
// 1 + max over all iterations of (issue cycle + the delay of the opcode's class), plus
// superlanes - 1; 0 for a program without instructions. Expects existing opcodes (throws
// lockstep::Error otherwise).
std::uint64_t program_end_cycle(const Program& program, const ChipConfig& chip);

}  // namespace lockstep::lpu
