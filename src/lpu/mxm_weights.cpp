#include "lpu/mxm_weights.h"

#include <algorithm>
#include <cmath>
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
  if (type == ElementType::I8) {
    const std::uint32_t n = w.rows / lanes;
    w.row_scale = {name + ".scale", alloc_.allocate(name + ".scale", n, std::min<std::uint32_t>(4, n), Pool::Weights)};
  }
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
  const bool int8 = w.type == ElementType::I8;
  const std::uint32_t vb = chip.vector_bytes;
  const std::uint32_t per_vector = int8 ? vb : vb / 2;
  const std::uint32_t lanes = chip.fp32_lanes();
  std::vector<float> scales(w.rows, 0.0f);
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
    float absmax = 0.0f;
    for (float f : full) absmax = std::max(absmax, std::fabs(f));
    scales[r] = absmax / 127.0f;
    const float inverse = absmax > 0 ? 127.0f / absmax : 0.0f;
    const std::uint32_t j = r / block_rows, within = r % block_rows;
    for (std::uint32_t c = 0; c < w.chunks; ++c) {
      auto& dst = bytes[j * w.chunks + c][within % width];
      std::uint8_t* v = &dst[std::size_t{within / width} * vb];
      for (std::uint32_t e = 0; e < per_vector; ++e) {
        const float f = full[c * per_vector + e];
        if (int8) {
          const float q = std::clamp(std::nearbyint(f * inverse), -127.0f, 127.0f);
          v[e] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
        } else {
          const std::uint16_t h = numerics::fp32_to_fp16(f);
          std::memcpy(v + 2 * e, &h, 2);
        }
      }
    }
  }
  if (int8) {
    const Placed& p = w.row_scale.place;
    for (int s = 0; s < p.stripes(); ++s) {
      MemorySegment seg{p.slices[s], p.addr, std::vector<std::uint8_t>(std::size_t{p.stripe_vectors(s)} * vb, 0)};
      for (std::uint32_t v = s, k = 0; v < p.vectors; v += p.stripes(), ++k)
        std::memcpy(&seg.bytes[std::size_t{k} * vb], &scales[std::size_t{v} * lanes], lanes * 4);
      memory.push_back(std::move(seg));
    }
  }
  for (std::size_t b = 0; b < w.placed.size(); ++b)
    for (std::size_t s = 0; s < width; ++s)
      memory.push_back({w.placed[b].slices[s], w.placed[b].addr, std::move(bytes[b][s])});
}

MxmInput prepare_mxm_input(VectorBuilder& vb, const VTensor& x, ElementType type,
                           const std::string& name) {
  if (type == ElementType::F16) return {type, vb.to_fp16(x, name + ".f16"), {}};
  // int8: scale = max |x| / 127 (a tiny floor keeps an all-zero row finite), q = x / scale.
  const VTensor ax = vb.unary(Opcode::Abs, x, 0.0f, name + ".abs");
  const VTensor mx = vb.reduce_lanes(Opcode::Max, vb.reduce_vectors(Opcode::Max, ax, name + ".maxv"), name + ".max");
  const VTensor floor = vb.unary(Opcode::AddImm, mx, 1e-30f, name + ".floor");
  const VTensor scale = vb.unary(Opcode::MulImm, floor, 1.0f / 127.0f, name + ".scale");
  const VTensor inverse = vb.binary(Opcode::Div, vb.ones(), scale, name + ".inv");
  const VTensor scaled = vb.binary(Opcode::Mul, x, inverse, name + ".scaled");
  const std::uint32_t chunks = (scaled.vectors() + 3) / 4;
  VTensor q = vb.alloc(name + ".i8", chunks, 4, {&scaled});
  std::vector<VectorStep> steps;
  for (std::uint32_t c = 0; c < chunks; ++c) {
    VectorStep s{{}, q.at(c)};
    for (std::uint32_t k = 0; k < 4; ++k)
      s.in.push_back(4 * c + k < scaled.vectors() ? scaled.at(4 * c + k) : vb.zeros().at(0));
    steps.push_back(s);
  }
  vb.map(Opcode::ConvertF32ToI8, steps, 0, 0.0f, name);
  return {type, q, scale};
}

VTensor project(VectorBuilder& vb, const MxmWeights& w, const MxmInput& x, const std::string& name) {
  if (x.type != w.type)
    fail("internal compiler error: {} weights are not of its input's type", w.name);
  const VTensor y = matvec(vb, w, x.chunks, name + (w.type == ElementType::I8 ? ".i32" : ""));
  if (w.type != ElementType::I8) return y;
  const VTensor f = vb.unary(Opcode::ConvertI32ToF32, y, 0.0f, name + ".f32");
  const VTensor rows = vb.binary(Opcode::Mul, f, w.row_scale, name + ".rows");
  return vb.binary(Opcode::Mul, rows, x.scale, name);
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
