#include "lpu/mxm_weights.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "core/error.h"
#include "numerics/half.h"

namespace lockstep::lpu {

MxmPlacer::MxmPlacer(const ChipConfig& chip, const Floorplan& floorplan, MemAllocator& allocator)
    : chip_(chip), fp_(floorplan), alloc_(allocator), plane_slices_(floorplan.mxm_planes()) {
  const int width = chip.mxm_load_streams;
  const int per_hemisphere = floorplan.mxm_planes() / 2;
  for (int plane = 0; plane < floorplan.mxm_planes(); ++plane) {
    std::vector<int> mine;
    for (int s : allocator.pool_slices(Pool::Weights))
      if (floorplan.mem_hemisphere(s) == floorplan.mxm_hemisphere(plane)) mine.push_back(s);
    const int local = plane % per_hemisphere;
    if (static_cast<int>(mine.size()) < (local + 1) * width)
      fail("the chip has too few weight slices to feed {} MXM planes {} streams wide",
           floorplan.mxm_planes(), width);
    plane_slices_[plane].assign(mine.begin() + local * width, mine.begin() + (local + 1) * width);
  }
}

MxmWeights MxmPlacer::place(const std::string& name, std::uint32_t rows, std::uint32_t cols,
                            ElementType type) {
  const std::uint32_t lanes = chip_.fp32_lanes();
  const std::uint32_t per_vector = type == ElementType::I8 ? chip_.vector_bytes : chip_.vector_bytes / 2;
  const std::uint32_t block_rows = chip_.mxm_plane_rows;
  MxmWeights w;
  w.name = name;
  w.type = type;
  w.rows = (rows + lanes - 1) / lanes * lanes;
  w.chunks = (cols + per_vector - 1) / per_vector;
  w.cols = w.chunks * per_vector;
  w.blocks = (w.rows + block_rows - 1) / block_rows;
  for (std::uint32_t j = 0; j < w.blocks; ++j) {
    const std::uint32_t r = std::min(block_rows, w.rows - j * block_rows);
    for (std::uint32_t c = 0; c < w.chunks; ++c) {
      const int plane = next_plane_;
      const Placed p = alloc_.allocate_on(fmt::format("{}.{}.{}", name, j, c), r, plane_slices_[plane]);
      w.placed.push_back({plane, plane_slices_[plane], p.addr, r});
    }
    next_plane_ = (next_plane_ + 1) % fp_.mxm_planes();
  }
  return w;
}

void pack_mxm_weights(const MxmWeights& w, const ChipConfig& chip,
                      const std::function<void(std::uint32_t row, float* out)>& row,
                      std::vector<MemorySegment>& memory) {
  if (w.type != ElementType::F16) fail("packing {} weights: only fp16 is implemented", w.name);
  const std::uint32_t vb = chip.vector_bytes;
  const std::uint32_t per_vector = vb / 2;
  const std::uint32_t block_rows = chip.mxm_plane_rows;
  const std::size_t width = chip.mxm_load_streams;
  std::vector<float> full(w.cols);
  // segments[block * chunks + chunk][slice index] -> bytes
  std::vector<std::vector<std::vector<std::uint8_t>>> bytes(w.placed.size());
  for (std::size_t b = 0; b < w.placed.size(); ++b) {
    const std::uint32_t depth = static_cast<std::uint32_t>((w.placed[b].rows + width - 1) / width);
    bytes[b].assign(width, std::vector<std::uint8_t>(std::size_t{depth} * vb, 0));
  }
  for (std::uint32_t r = 0; r < w.rows; ++r) {
    std::fill(full.begin(), full.end(), 0.0f);
    row(r, full.data());
    const std::uint32_t j = r / block_rows, within = r % block_rows;
    for (std::uint32_t c = 0; c < w.chunks; ++c) {
      auto& dst = bytes[j * w.chunks + c][within % width];
      std::uint8_t* v = &dst[std::size_t{within / width} * vb];
      for (std::uint32_t e = 0; e < per_vector; ++e) {
        const std::uint16_t h = numerics::fp32_to_fp16(full[c * per_vector + e]);
        std::memcpy(v + 2 * e, &h, 2);
      }
    }
  }
  for (std::size_t b = 0; b < w.placed.size(); ++b)
    for (std::size_t s = 0; s < width; ++s)
      memory.push_back({w.placed[b].slices[s], w.placed[b].addr, std::move(bytes[b][s])});
}

VTensor matvec(VectorBuilder& vb, const MxmWeights& w, const VTensor& x, const std::string& name) {
  if (x.vectors() < w.chunks)
    fail("internal compiler error: {} needs {} input chunks, {} has {}", w.name, w.chunks, x.name,
         x.vectors());
  Emitter& e = vb.emitter();
  const ChipConfig& chip = e.scheduler().chip();
  const std::uint32_t width = chip.mxm_load_streams;
  VTensor y = vb.alloc(name, 4 * w.blocks, 4, {&x});
  for (std::uint32_t j = 0; j < w.blocks; ++j) {
    const int plane = w.placed[j * w.chunks].plane;
    // Consecutive blocks of one plane use different accumulator rows, so that an Emit does not
    // hold back the next block's Compute.
    const std::uint32_t acc_row = (j / 4) % static_cast<std::uint32_t>(chip.mxm_accumulator_rows);
    for (std::uint32_t c = 0; c < w.chunks; ++c) {
      const MxmBlock& b = w.placed[j * w.chunks + c];
      std::vector<VecRef> sources;
      for (std::uint32_t s = 0; s < width; ++s) sources.push_back({b.slices[s], b.addr, 1});
      const std::string what = fmt::format("{} block {} chunk {}", w.name, j, c);
      e.load_weights(plane, sources, 0, (b.rows + width - 1) / width, what);
      e.install_weights(plane, b.rows, w.type, what);
      VecRef in = x.at(c);
      in.step = 0;
      e.compute(plane, in, acc_row, 1, c > 0, 1, what);
    }
    std::array<VecRef, 4> out;
    for (int q = 0; q < 4; ++q) out[q] = y.at(4 * j + q);
    e.emit(plane, acc_row, out, 1, fmt::format("{} emit {}", w.name, j));
  }
  y.place.vectors = w.rows / chip.fp32_lanes();
  return y;
}

}  // namespace lockstep::lpu
