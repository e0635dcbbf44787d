// The readable form of a Program (`--emit asm`): one instruction per line, exact enough that
// parse_program_asm(write_program_asm(p)) == p for every program whose queue count is the
// floorplan's and whose encoding the binary reader would accept.
//
//   # lockstep LPU program, assembly format 1
//   .format 1
//   .system "lpu-v1"
//   .description "a \"small\" program"
//   .predicted_cycles 42
//   .dataflow_cycles 30
//   .buffer input "token" slice=mem.w0 addr=8 vectors=1 type=i32 elements=1 role=token
//   .host rows=1 vector_bytes=320 lanes=80 context=256 n_vocab=512 ... (a model step only)
//   .rope_freq_factors 1 1 2.5 ...                    (when the model scales RoPE per pair)
//
//   # mem.w0: mem queue at position 46, 2 instructions
//   mem.w0      @0        read        -> e3 reach=47 addr=8 step=1 order=1 x4/2
//   mem.w0      @20       write       w7 width=2 addr=100 order=1
//
//   # mxm.e0.abc: mxm.abc queue at position 93, 1 instruction
//   mxm.e0.abc  @7        iw          addr=320 type=i8
//
//   # vxm.0: vxm queue at position 47, 1 instruction
//   vxm.0       @4        addi        e3 -> w7 reach=46 fimm=0.1 x4/2
//
//   .memory slice=mem.e1 addr=2 bytes=40
//   00070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9
//   e0e7eef5fc030a11
//
// (tests/lpu/program_io_test.cpp pins this text.) Queues with instructions appear in queue-id
// order, each after a comment naming its unit and position; memory segments come last, as hex,
// 32 bytes a line.
//
// An instruction line is: queue name (Floorplan::queues()[q].name), `@` issue cycle, mnemonic
// (the ISA table's), the input streams the opcode reads in order (`e5` east / `w17` west, `-` for
// none), `-> stream` when the opcode writes streams (the first one: Read writes `width`, Emit 4),
// then `key=value` operands, then `x<repeat>/<stride>` when either differs from 1. Keys:
//   reach width addr step imm imm2 imm3 fimm  (step = addr_step; iw writes imm as type=i8|f16)
//   order                                     (the memory order, program.h; when not 0)
//   in0..in3 out                              (only for slots the opcode does not use)
// An operand the opcode uses is always written; any other field only when it is not its
// default, so nothing is lost. Floats are written in the shortest decimal form that reads back
// to the same bits (NaN as nan:0x<bits>). Lines of one queue need not be adjacent; they are
// appended to it in file order. `#` starts a comment; blank lines are ignored. Strings are
// double-quoted with \" \\ and \xNN escapes. Directives: .format (optional; must be 1),
// .system, .description, .predicted_cycles, .dataflow_cycles (when not 0), .host,
// .rope_freq_factors (each at most once), .buffer and .memory (any number; a .memory line is
// followed by its `bytes` as hex lines).
// A .buffer's role= (host_interface.h's names) and stripe= are written when set; .host
// (key=value: rows vector_bytes lanes context n_vocab token_first vocab_first vocab_rows
// logits_stride logits_stripes head_dim rope_theta rope_scale) when the program has a host
// interface, finite doubles in their shortest round-trip form, others as bits:0x<16 hex digits>.
//
// Parse errors are lockstep::Error sentences "<source>:<line>: what is wrong".
#pragma once

#include <string>
#include <string_view>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program.h"

namespace lockstep::lpu {

inline constexpr int kProgramAsmVersion = 1;

struct AsmOptions {
  bool include_memory = true;  // false: memory segments are listed in comments, without data
};

// Requires program.queues.size() == floorplan.queue_count() and every stream byte a stream or
// kNoStream (lockstep::Error otherwise).
std::string write_program_asm(const Program& program, const Floorplan& floorplan,
                              AsmOptions options = {});

// The result has floorplan.queue_count() queues. Checks syntax and field ranges only;
// program_check.h checks the program against a chip.
Program parse_program_asm(std::string_view text, const Floorplan& floorplan,
                          const std::string& source_name);

}  // namespace lockstep::lpu
