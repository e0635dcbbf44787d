// One step of a transformer lowered onto one chip: a program that, run once per token (decode)
// or once per chunk of T tokens (prefill), takes the token ids and their positions from host
// buffers, updates the KV cache kept in MEM, and leaves the logits of every row in MEM. In a
// prefill chunk every weight streams through the MXM once for all T rows. The program is the same for every position up to the compiled
// context (attention covers the whole window, masked), so its cycle count is the same for every
// token: that is the point of the machine.
//
// Layouts (docs/lpu.md): the residual stream and every element-wise tensor are fp32 vectors of
// 80 lanes; q, k and v put each head in two vectors, the first and second of every RoPE pair in
// lanes 0 .. head_dim/2 - 1 (the projection rows are permuted and padded to make it so, and wo's
// columns follow); keys are cached dimension-major (80 positions per vector), values
// position-major.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compiler/precision.h"
#include "lpu/mem_allocator.h"
#include "lpu/program.h"
#include "lpu/system_config.h"
#include "model/model.h"

namespace lockstep::lpu {

struct DecodeOptions {
  compiler::WeightPrecision weights = compiler::WeightPrecision::Fp16;
  std::int64_t context = 0;  // positions the KV cache holds (0: the model's, at most 4096)
  std::int64_t rows = 1;          // tokens per run: 1 = a decode step, T > 1 = a prefill chunk
};

class DecodeProgram {
 public:
  // With `model`, the memory image holds its weights (functional runs); with only a config the
  // program is for timing.
  DecodeProgram(const model::ModelConfig& config, const model::Model* model,
                const SystemConfig& system, const DecodeOptions& options);

  const Program& program() const { return program_; }
  std::int64_t context() const { return context_; }
  std::uint64_t sram_bytes() const { return sram_bytes_; }  // placed, bytes

  std::uint32_t rows() const { return rows_; }

  // The bytes of every input buffer for one run: tokens[t] at position pos + t, t < rows().
  std::vector<std::pair<HostBuffer, std::vector<std::uint8_t>>> inputs(
      std::span<const std::int32_t> tokens, std::int64_t pos) const;
  std::vector<std::pair<HostBuffer, std::vector<std::uint8_t>>> inputs(std::int32_t token,
                                                                       std::int64_t pos) const {
    return inputs(std::span<const std::int32_t>(&token, 1), pos);
  }
  // The placement pass's result: weights, tables and host buffers, before lowering.
  const std::vector<Allocation>& placement() const { return placement_; }

  // The logits [rows][n_vocab] fp32 from the output buffers of a run.
  std::vector<float> logits(
      const std::function<std::vector<std::uint8_t>(const HostBuffer&)>& read) const;

 private:
  model::ModelConfig config_;
  ChipConfig chip_;
  Program program_;
  std::int64_t context_ = 0;
  std::uint32_t rows_ = 1;
  std::uint32_t logits_stride_ = 0;  // vectors per row of the logits as laid out
  std::uint64_t sram_bytes_ = 0;
  std::vector<Allocation> placement_;
};

}  // namespace lockstep::lpu
