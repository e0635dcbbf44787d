// A plain matrix multiply lowered onto one chip: C[m][n] = sum_k A[m][k] * W[n][k], with A and
// W int8 (int32 accumulation, exact) or fp16 (fp32 accumulation). This is what `lockstep compile
// --gemm M,K,N` builds, and the measure of how close the schedule gets to the MXM's peak.
//
// Layout: W is cut into blocks of 320 output rows x one K chunk (320 int8 or 160 fp16); block
// (j, c) is loaded 16 rows per cycle from 16 MEM slices into plane j % 4, installed, and every
// row of A streams through it (one vector per cycle), accumulating over c in the plane's
// accumulators. A and C are kept chunk-major: chunk c of A (and each 80-wide chunk of C) is a
// column of m vectors in one slice, so a Compute or an Emit walks one slice with a fixed step.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "compiler/mem_allocator.h"
#include "lpu/program/program.h"
#include "lpu/arch/system_config.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

class Emitter;

struct GemmShape {
  std::int64_t m = 0;  // rows of A and C
  std::int64_t k = 0;  // inner dimension
  std::int64_t n = 0;  // rows of W = columns of C
  ElementType type = ElementType::I8;  // I8 or F16
};

// A GEMM that is one of `ranks` partial products over a cut of K (multichip_gemm.h): its C
// (int32 converted to fp32 for int8) is all-reduced over the ranks after the product, so the
// output buffers hold the sum on every rank.
struct GemmAllReduce {
  int ranks = 1;
  std::uint16_t occupancy = 24;  // link cycles per vector (decode_lowering.h's LinkCycles)
  std::uint32_t transfer = 241;
};

class GemmProgram {
 public:
  GemmProgram(const SystemConfig& system, const GemmShape& shape, const GemmAllReduce& reduce = {});

  const Program& program() const { return program_; }
  const GemmShape& shape() const { return shape_; }
  std::uint64_t macs() const;  // m * k * n multiply-accumulates
  const std::vector<Allocation>& placement() const { return placement_; }

  // Memory segments that put A ([m][k] row-major, element bytes of `type`) and W ([n][k])
  // where the program reads them.
  std::vector<MemorySegment> pack_inputs(std::span<const std::uint8_t> a,
                                         std::span<const std::uint8_t> w) const;
  // C ([m][n], 4-byte int32 or fp32 lanes, row-major; fp32 after an all-reduce) from the output
  // buffers of a run.
  std::vector<std::uint8_t> unpack_output(
      const std::function<std::vector<std::uint8_t>(const HostBuffer&)>& read) const;

 private:
  void all_reduce_output(Emitter& emit, MemAllocator& alloc, const GemmAllReduce& reduce);

  struct WeightBlock {
    int plane;
    std::vector<int> slices;   // W (mxm_weights.h): row r of the block in slices[r % W]
    std::uint32_t addr;        // at addr + r / W
  };
  GemmShape shape_;
  ChipConfig chip_;
  Program program_;
  int elements_per_vector_ = 0;   // K elements per vector: 320 int8 or 160 fp16
  std::int64_t chunks_ = 0;       // K chunks
  std::int64_t blocks_ = 0;       // 320-row output blocks
  std::vector<std::pair<int, std::uint32_t>> a_chunks_;  // (slice, addr): m vectors each
  std::vector<std::pair<int, std::uint32_t>> c_chunks_;  // (slice, addr): m vectors each
  std::vector<WeightBlock> w_blocks_;                    // [block * chunks + chunk]
  std::vector<Allocation> placement_;
};

}  // namespace lockstep::compiler
