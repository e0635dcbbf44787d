#include "compiler/mxm_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "core/error.h"
#include "numerics/half.h"

namespace lockstep::compiler {

MxmPlacer::MxmPlacer(const ChipConfig& chip, const Floorplan& floorplan, MemAllocator& allocator, int width)
    : chip_(chip), fp_(floorplan), alloc_(allocator), plane_slices_(floorplan.mxm_planes()) {
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
    // The next plane in turn, unless another has clearly less in its slices: matrices of
    // different widths would otherwise fill some planes' slices before the others'.
    auto depth = [&](int plane) {
      std::uint32_t top = 0;
      for (int s : plane_slices_[plane]) top = std::max(top, alloc_.top(s));
      return top;
    };
    for (int p = 0; p < fp_.mxm_planes(); ++p)
      if (depth(p) + w.chunks * chip_.vector_bytes / 16 < depth(next_plane_)) next_plane_ = p;
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
  std::vector<float> scales(w.rows, 0.0f);
  const std::uint32_t block_rows = chip.mxm_plane_rows;
  std::vector<float> full(w.cols);
  // segments[block * chunks + chunk][slice index] -> bytes
  std::vector<std::vector<std::vector<std::uint8_t>>> bytes(w.placed.size());
  for (std::size_t b = 0; b < w.placed.size(); ++b) {
    const std::size_t width = w.placed[b].slices.size();
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
      const std::size_t width = w.placed[j * w.chunks + c].slices.size();
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
  if (int8) append_fp32_segments(w.row_scale.place, scales, chip.vector_bytes, memory);
  for (std::size_t b = 0; b < w.placed.size(); ++b)
    for (std::size_t s = 0; s < w.placed[b].slices.size(); ++s)
      memory.push_back({w.placed[b].slices[s], w.placed[b].addr, std::move(bytes[b][s])});
}

MxmInput prepare_mxm_input(VectorBuilder& vb, const Rows& x, ElementType type,
                           const std::string& name) {
  MxmInput in;
  in.type = type;
  if (type == ElementType::F16) {
    // Chunk c of a row packs its fp32 vectors 2c (low half) and 2c + 1 (high half).
    in.chunks = alloc_rows(vb, name + ".f16", x.rows, (x.width + 1) / 2, {&x.all});
    map_rows(vb, Opcode::ConvertF32ToF16,
             {[&](std::uint32_t t, std::uint32_t c) { return x.at(t, 2 * c); },
              [&](std::uint32_t t, std::uint32_t c) {
                return 2 * c + 1 < x.width ? x.at(t, 2 * c + 1) : vb.zeros().at(0);
              }},
             in.chunks);
    return in;
  }
  // int8: per row, scale = max |x| / 127 (a tiny floor keeps an all-zero row finite), q = x / scale.
  Rows ax = alloc_rows(vb, name + ".abs", x.rows, x.width, {&x.all});
  map_rows(vb, Opcode::Abs, {same(x)}, ax);
  std::vector<VecRef> inverse;
  for (std::uint32_t t = 0; t < x.rows; ++t) {
    const std::string rn = name + "." + std::to_string(t);
    const VTensor mx = vb.reduce_lanes(Opcode::Max, vb.reduce_vectors(Opcode::Max, ax.row(t), rn + ".maxv"), rn + ".max");
    const VTensor floor = vb.unary(Opcode::AddImm, mx, 1e-30f, rn + ".floor");
    const VTensor scale = vb.unary(Opcode::MulImm, floor, 1.0f / 127.0f, rn + ".scale");
    in.scale.push_back(scale.at(0));
    inverse.push_back(vb.binary(Opcode::Div, vb.ones(), scale, rn + ".inv").at(0));
  }
  Rows scaled = alloc_rows(vb, name + ".scaled", x.rows, x.width, {&x.all});
  map_rows(vb, Opcode::Mul, {same(x), one_per_row(inverse)}, scaled);
  in.chunks = alloc_rows(vb, name + ".i8", x.rows, (x.width + 3) / 4, {&scaled.all});
  std::vector<RowOperand> quarters;
  for (std::uint32_t k = 0; k < 4; ++k)
    quarters.push_back([&, k](std::uint32_t t, std::uint32_t c) {
      return 4 * c + k < scaled.width ? scaled.at(t, 4 * c + k) : vb.zeros().at(0);
    });
  map_rows(vb, Opcode::ConvertF32ToI8, quarters, in.chunks);
  return in;
}

Rows project(VectorBuilder& vb, const MxmWeights& w, const MxmInput& x, const std::string& name) {
  if (x.type != w.type)
    fail("internal compiler error: {} weights are not of its input's type", w.name);
  Rows y = matvec(vb, w, x.chunks, name + (w.type == ElementType::I8 ? ".i32" : ""));
  if (w.type != ElementType::I8) return y;
  Rows f = alloc_rows(vb, name + ".f32", y.rows, y.width, {&y.all});
  map_rows(vb, Opcode::ConvertI32ToF32, {same(y)}, f);
  Rows scaled_rows = alloc_rows(vb, name + ".rows", y.rows, y.width, {&f.all});
  map_rows(vb, Opcode::Mul, {same(f), for_every_row(w.row_scale)}, scaled_rows);
  Rows out = alloc_rows(vb, name, y.rows, y.width, {&scaled_rows.all});
  map_rows(vb, Opcode::Mul, {same(scaled_rows), one_per_row(x.scale)}, out);
  return out;
}

Rows matvec(VectorBuilder& vb, const MxmWeights& w, const Rows& x, const std::string& name) {
  if (x.width < w.chunks)
    fail("internal compiler error: {} needs {} input chunks, {} has {}", w.name, w.chunks,
         x.all.name, x.width);
  Emitter& e = vb.emitter();
  const ChipConfig& chip = e.scheduler().chip();
  const std::uint32_t half = static_cast<std::uint32_t>(chip.mxm_accumulator_rows / 2);
  if (x.rows > half)
    fail("a chunk of {} rows exceeds half the MXM accumulator ({} rows)", x.rows, half);
  Rows y;
  y.rows = x.rows;
  y.stride = 4 * w.blocks;
  y.width = y.stride;
  y.all = vb.alloc(name, x.rows * y.stride, 4, {&x.all});
  for (std::uint32_t j = 0; j < w.blocks; ++j) {
    const int plane = w.placed[j * w.chunks].plane;
    // Consecutive blocks of one plane use the two halves of its accumulator in turn, so that an
    // Emit does not hold back the next block's Compute.
    const std::uint32_t acc_row = ((j / 4) % 2) * half;
    for (std::uint32_t c = 0; c < w.chunks; ++c) {
      const MxmBlock& b = w.placed[j * w.chunks + c];
      const std::string what = fmt::format("{} block {} chunk {}", w.name, j, c);
      e.load_block(plane, b.slices, b.addr, b.rows, what);
      e.install_weights(plane, b.rows, w.type, what);
      VecRef in = x.column(c);
      if (x.rows == 1) in.step = 0;
      e.compute(plane, in, acc_row, 1, c > 0, x.rows, what);
    }
    std::array<VecRef, 4> out;
    for (int q = 0; q < 4; ++q) out[q] = y.column(4 * j + q);
    e.emit(plane, acc_row, out, x.rows, fmt::format("{} emit {}", w.name, j));
  }
  y.width = w.rows / chip.fp32_lanes();
  return y;
}

}  // namespace lockstep::compiler
