// The versioned binary form of a Program (what `lockstep compile` writes and `simulate` reads).
// All integers are little-endian and fixed-width; strings are a uint32 byte count and the bytes.
//
//   magic "LOCKPROG" (8 bytes), uint32 format version (kProgramBinaryVersion)
//   string system, string description, uint64 predicted_cycles, uint64 dataflow_cycles
//   uint32 queue count; per queue: uint32 instruction count, then that many 52-byte records:
//     0 u64 cycle | 8 u32 repeat | 12 u16 stride | 14 u8 opcode | 15 u8 width | 16 u8 in[4] |
//     20 u8 out | 21 u8 reach | 22 u16 reserved (0) | 24 u32 addr | 28 i32 addr_step |
//     32 i32 imm | 36 i32 imm2 | 40 i32 imm3 | 44 f32 fimm (IEEE-754 bits) | 48 u32 order
//   uint32 memory segment count; per segment: i32 slice, u32 addr, u64 byte count, the bytes
//   uint32 host buffer count; per buffer: string name, u8 is_input (0/1), u8 ElementType,
//     i32 slice, u32 addr, u32 vectors, u32 elements, u8 HostRole, u32 stripe
//   the host interface (program.h): u32 rows, u32 vector_bytes, u32 lanes, i64 context,
//     i64 n_vocab, i64 token_first, i64 vocab_first, i64 vocab_rows, u32 logits_stride,
//     u32 logits_stripes, i64 rope head_dim, f64 rope theta, f64 rope linear_scale,
//     u32 factor count, that many f32 RoPE frequency factors
//   nothing after the host interface.
//
// Version 2 added the buffers' roles and the host interface; version 3 the instructions' memory
// order and the dataflow bound. An older file is refused with one sentence asking to compile it
// again.
//
// The reader treats its input as hostile: every count is checked against the bytes that remain
// before anything is allocated, and truncation, trailing bytes, an unknown version, opcode,
// element type or host role, a stream byte that is neither a stream nor kNoStream, repeat 0,
// stride 0 or a non-zero reserved field give one lockstep::Error sentence naming the source and
// the field.
// It checks the encoding only; program_check.h checks the program against a chip.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lpu/program/program.h"

namespace lockstep::lpu {

inline constexpr std::uint32_t kProgramBinaryVersion = 3;

std::vector<std::uint8_t> write_program_binary(const Program& program);

// `source_name` (a path, or a label for memory) names the input in error messages.
Program read_program_binary(std::span<const std::uint8_t> bytes, const std::string& source_name);

// Writes the binary form to `path` (through `path`.tmp, renamed when complete).
void save_program(const Program& program, const std::string& path);
// Reads a file written by save_program; errors name `path`.
Program load_program(const std::string& path);

}  // namespace lockstep::lpu
