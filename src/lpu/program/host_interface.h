// The host's side of a model step, from the Program alone: the bytes of every input buffer for
// one run (token ids, positions, RoPE angles, the causal mask, by the buffers' HostRole), and
// the logits read back from the output buffers. Nothing here needs the model or the compiler:
// what the host must know (rows, context, vocabulary, RoPE parameters, the logits' layout) is
// recorded in Program::host by the compiler (program.h).
//
// Errors (lockstep::Error, one sentence): a token count other than the program's rows, positions
// outside the compiled context, a token outside the vocabulary, a program that is not a model
// step, or a host interface that contradicts its buffers (a hostile file).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "lpu/program/program.h"
#include "lpu/program/system_program.h"

namespace lockstep::lpu {

// Every input buffer of a run with its bytes (vectors * vector_bytes, padding zero).
using HostInputs = std::vector<std::pair<HostBuffer, std::vector<std::uint8_t>>>;
// Reads an output buffer after a run: vectors * vector_bytes bytes.
using ReadBuffer = std::function<std::vector<std::uint8_t>(const HostBuffer&)>;
using ReadChipBuffer = std::function<std::vector<std::uint8_t>(std::size_t chip, const HostBuffer&)>;

// The program runs a model step (its host interface has rows).
bool is_model_step(const Program& program);

// The host's name of a role ("token", "rope.cos", "logits" ...; "" for Unspecified), and back
// (Unspecified when no role has the name).
const char* host_role_name(HostRole role);
HostRole host_role_from_name(std::string_view name);

// The structural rules of a model step's host interface: every buffer's role fits its direction,
// element type and size (rows x vectors per row; RoPE's head_dim / 2 within a vector; the
// logits stripes cover rows x logits_stride vectors). Programs without rows pass.
void check_host_interface(const Program& program);

// The input bytes for one run: tokens[t] at position pos + t, t < host.rows; `shard` the chip's
// (the program's own when omitted).
HostInputs fill_inputs(const Program& program, std::span<const std::int32_t> tokens,
                       std::int64_t pos);
HostInputs fill_inputs(const Program& program, const HostShard& shard,
                       std::span<const std::int32_t> tokens, std::int64_t pos);

// The logits [rows][vocab_rows] fp32 of the last run; column j is vocabulary id
// shard.vocab_first + j.
std::vector<float> read_logits(const Program& program, const ReadBuffer& read);

// A system: the input bytes of chip `index` (of program.chips), and the logits [rows][n_vocab]
// fp32 gathered from every chip whose program computes logits.
HostInputs fill_chip_inputs(const SystemProgram& program, std::size_t index,
                            std::span<const std::int32_t> tokens, std::int64_t pos);
std::vector<float> read_system_logits(const SystemProgram& program, const ReadChipBuffer& read);

}  // namespace lockstep::lpu
