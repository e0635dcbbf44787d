// Weight matrices in the MXM's layout, and the matrix-vector product that streams them.
//
// A matrix of `rows` outputs x `cols` inputs (both as laid out: rows a multiple of 80 so that
// outputs fill whole fp32 vectors, cols cut into K chunks of 160 fp16 or 320 int8) is cut into
// blocks of 320 rows x one chunk. Block (j, c) lives on W (16 or 15) MEM slices that feed its
// plane: row r of the block in slices[r % W] at addr + r / W, so one LoadWeights reads W rows per
// cycle.
// Blocks go to the four planes in turn, so consecutive blocks stream and compute in parallel.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/row_tensor.h"
#include "compiler/vector_builder.h"
#include "lpu/program/program.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

// Rows one LoadWeights streams per cycle, when SRAM allows. The chip allows mxm_load_streams (16);
// the planes of a hemisphere share its streams_per_direction outward streams (32), so two planes
// loading 16 wide take every stream and the input vector of a matrix-vector product waits for a
// free one. One stream per plane is left free for it: 15 wide on lpu-v1 (a 1 x 8000 x 8000
// matvec: 6,714 cycles at 16 wide, 4,220 at 15). A plane's weights then sit on 15 slices, not
// 16, so a chip that the planner fills to its MXM capacity is placed 16 wide (DecodeProgram
// tries the narrow width first).
inline int narrow_mxm_load_width(const ChipConfig& chip) {
  return std::max(1, std::min(chip.mxm_load_streams, chip.streams_per_direction / chip.mxm_planes_per_hemisphere - 1));
}

struct MxmBlock {
  int plane = 0;
  std::vector<int> slices;   // the placer's width slices
  std::uint32_t addr = 0;
  std::uint32_t rows = 0;    // rows installed (<= 320)
};

struct MxmWeights {
  std::string name;
  ElementType type = ElementType::F16;
  std::uint32_t rows = 0;     // laid-out output rows (multiple of 80)
  std::uint32_t cols = 0;     // laid-out input columns (chunks * elements per vector)
  std::uint32_t chunks = 0;
  std::uint32_t blocks = 0;
  std::vector<MxmBlock> placed;  // [block * chunks + chunk]
  VTensor row_scale;             // int8: [rows / 80] fp32 vectors, lane = row's scale
};

// The input of one or more projections, converted once for the MXM: per row, fp16 chunks, or
// int8 chunks with their dynamic scale (absmax / 127 in every lane of one fp32 vector per row).
struct MxmInput {
  ElementType type = ElementType::F16;
  Rows chunks;
  std::vector<VecRef> scale;  // int8 only: [rows]
};

class MxmPlacer {
 public:
  // Blocks on `width` slices per plane (mxm_load_streams, or narrow_mxm_load_width).
  MxmPlacer(const ChipConfig& chip, const Floorplan& floorplan, MemAllocator& allocator, int width);
  // Places a rows x cols matrix (laid-out sizes; rows rounded up to whole vectors).
  MxmWeights place(const std::string& name, std::uint32_t rows, std::uint32_t cols, ElementType type);

 private:
  const ChipConfig& chip_;
  const Floorplan& fp_;
  MemAllocator& alloc_;
  int next_plane_ = 0;
  std::vector<std::vector<int>> plane_slices_;  // [plane] -> its `width` feeding slices
};

// Appends the memory segments holding `w`, whose laid-out row r is produced by
// row(r, out[cols]) as fp32: rounded to fp16, or quantised to int8 with one scale per row
// (absmax / 127, round half to even) whose vectors go to w.row_scale.
void pack_mxm_weights(const MxmWeights& w, const ChipConfig& chip,
                      const std::function<void(std::uint32_t row, float* out)>& row,
                      std::vector<MemorySegment>& memory);

// Converts rows of fp32 vectors for the MXM (TruePoint: fp16 by rounding, int8 by a dynamic
// per-row absmax scale).
MxmInput prepare_mxm_input(VectorBuilder& vb, const Rows& x, ElementType type,
                           const std::string& name);

// y = W x for every row, as fp32 vectors: the MXM product (the weights stream in once for all
// rows), rescaled by the row and input scales for int8.
Rows project(VectorBuilder& vb, const MxmWeights& w, const MxmInput& x, const std::string& name);

// y = W x for every row of x (chunks fp16 or int8 vectors per row): y has rows / 80 fp32 (or
// int32) vectors per row, 4 * blocks as laid out, so that each Emit writes 4 slices at once.
Rows matvec(VectorBuilder& vb, const MxmWeights& w, const Rows& x, const std::string& name);

}  // namespace lockstep::compiler
