// One large GEMM split over the chips of a node (`lockstep compile --gemm M,K,N --system S`), as
// one SystemProgram the system simulator runs, every rank the same program:
//   - columns: chip r holds W's rows [r N/P, (r + 1) N/P) and all of A, and computes its columns
//     of C; nothing crosses a link, and C stays split over the chips;
//   - inner: chip r holds the K range [r K/P, (r + 1) K/P) of A and W and computes a partial C,
//     which a butterfly all-reduce (all_reduce_lowering.h) sums, in fp32, on every chip.
// The first needs A on every chip and moves nothing; the second moves C log2(P) times and
// suits a K much larger than N. Both are compiled; compile prints both and the faster.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>
#include <string>

#include "compiler/gemm_lowering.h"
#include "lpu/arch/system_config.h"
#include "lpu/program/system_program.h"

namespace lockstep::compiler {

enum class GemmSplit { Columns, Inner };
const char* gemm_split_name(GemmSplit split);

class SystemGemm {
 public:
  SystemGemm(const SystemConfig& system, const GemmShape& shape, int chips, GemmSplit split);

  const SystemProgram& program() const { return program_; }
  // Functional runs: gives every chip its part of A ([m][k]) and W ([n][k]) (GemmProgram's
  // layouts), in the chip assignments' memory.
  void set_inputs(std::span<const std::uint8_t> a, std::span<const std::uint8_t> w);
  // C ([m][n] 4-byte lanes: int32 for an int8 split by columns, else fp32) from the output
  // buffers of every chip, read(chip assignment, buffer).
  std::vector<std::uint8_t> output(
      const std::function<std::vector<std::uint8_t>(std::size_t chip, const HostBuffer&)>& read) const;
  const GemmShape& chip_shape() const { return chip_shape_; }  // each chip's GEMM
  std::uint64_t cycles() const { return program_.predicted_cycles; }
  std::uint64_t macs() const;  // of the whole GEMM

 private:
  GemmShape shape_, chip_shape_;
  GemmSplit split_;
  std::unique_ptr<GemmProgram> gemm_;  // every chip's program
  SystemProgram program_;
};

}  // namespace lockstep::compiler
