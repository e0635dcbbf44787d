#include "compiler/gemm_lowering.h"

#include "compiler/all_reduce_lowering.h"
#include "compiler/mxm_weights.h"
#include "compiler/vector_builder.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "core/error.h"
#include "compiler/emitter.h"
#include "lpu/arch/floorplan.h"
#include "compiler/mem_allocator.h"
#include "lpu/program/program_check.h"
#include "compiler/scheduler.h"

namespace lockstep::compiler {
namespace {

constexpr std::int64_t kMaxDimension = 1 << 20;

int element_bytes(ElementType t) { return t == ElementType::I8 ? 1 : 2; }

// The weight slices that feed `plane`: its hemisphere's weight pool, in groups of `width`.
std::vector<int> plane_slices(const MemAllocator& alloc, const Floorplan& fp, int plane, int width) {
  const Hemisphere h = fp.mxm_hemisphere(plane);
  std::vector<int> mine;
  for (int s : alloc.pool_slices(Pool::Weights))
    if (fp.mem_hemisphere(s) == h) mine.push_back(s);
  const int local = plane % (fp.mxm_planes() / 2);
  if (static_cast<int>(mine.size()) < (local + 1) * width)
    fail("the chip has too few MEM slices outside the activation pool to feed {} MXM planes",
         fp.mxm_planes());
  return {mine.begin() + local * width, mine.begin() + (local + 1) * width};
}

}  // namespace

GemmProgram::GemmProgram(const SystemConfig& system, const GemmShape& shape, const GemmAllReduce& reduce)
    : shape_(shape), chip_(system.chip) {
  if (shape.m < 1 || shape.k < 1 || shape.n < 1 || shape.m > kMaxDimension ||
      shape.k > kMaxDimension || shape.n > kMaxDimension)
    fail("GEMM dimensions must be between 1 and {} (got {},{},{})", kMaxDimension, shape.m,
         shape.k, shape.n);
  if (shape.type != ElementType::I8 && shape.type != ElementType::F16)
    fail("the MXM multiplies int8 or fp16 matrices");
  const Floorplan fp(chip_);
  const int rows_per_block = chip_.mxm_plane_rows;
  const int lanes_out = chip_.fp32_lanes();  // outputs per emitted vector
  elements_per_vector_ = chip_.vector_bytes / element_bytes(shape.type);
  chunks_ = (shape.k + elements_per_vector_ - 1) / elements_per_vector_;
  blocks_ = (shape.n + rows_per_block - 1) / rows_per_block;
  const std::uint32_t m = static_cast<std::uint32_t>(shape.m);
  MemAllocator alloc(chip_, fp);
  // Weights first: each block must sit on slices that feed its plane; A and C may then spill
  // into whatever room is left. The narrow load width (mxm_weights.h) when a plane's blocks
  // fit its narrower set of slices.
  const std::int64_t blocks_per_plane = (blocks_ + fp.mxm_planes() - 1) / fp.mxm_planes() * chunks_;
  const int narrow = narrow_mxm_load_width(chip_);
  const std::int64_t slice_vectors = std::int64_t{chip_.vectors_per_bank} * chip_.banks_per_slice;
  const int width = blocks_per_plane * ((rows_per_block + narrow - 1) / narrow) <= slice_vectors
                        ? narrow
                        : chip_.mxm_load_streams;
  for (std::int64_t j = 0; j < blocks_; ++j)
    for (std::int64_t c = 0; c < chunks_; ++c) {
      const int plane = static_cast<int>(j % fp.mxm_planes());
      const auto slices = plane_slices(alloc, fp, plane, width);
      Placed p = alloc.allocate_on(fmt::format("w.{}.{}", j, c), rows_per_block, slices);
      w_blocks_.push_back({plane, slices, p.addr});
    }
  for (std::int64_t c = 0; c < chunks_; ++c) {
    Placed p = alloc.allocate(fmt::format("a.{}", c), m, 1, Pool::Activations);
    a_chunks_.push_back({p.slices[0], p.addr});
  }
  const int quarters = rows_per_block / lanes_out;  // emitted vectors per accumulator row
  for (std::int64_t q = 0; q < blocks_ * quarters; ++q) {
    Placed p = alloc.allocate(fmt::format("c.{}", q), m, 1, Pool::Activations);
    c_chunks_.push_back({p.slices[0], p.addr});
  }
  if (alloc.overflowed())
    fail("a {}x{}x{} GEMM needs {:.1f} MiB of SRAM; one {} chip holds {:.1f} MiB", shape.m,
         shape.k, shape.n, alloc.requested_bytes() / 1048576.0, system.name,
         alloc.capacity_bytes() / 1048576.0);

  placement_ = alloc.log();
  verify_placement(placement_, placement_.size(), chip_);
  program_.system = system.name;
  program_.description = fmt::format("gemm {}x{}x{} {}", shape.m, shape.k, shape.n,
                                     shape.type == ElementType::I8 ? "int8" : "fp16");
  for (std::int64_t c = 0; c < chunks_; ++c)
    program_.buffers.push_back({fmt::format("a.{}", c), true, a_chunks_[c].first,
                                a_chunks_[c].second, m, shape.type,
                                static_cast<std::uint32_t>(m * elements_per_vector_)});
  const bool reduced = reduce.ranks > 1;
  // After an all-reduce the result is a new tensor; its buffers are added below.
  if (!reduced)
    for (std::size_t q = 0; q < c_chunks_.size(); ++q)
      program_.buffers.push_back({fmt::format("c.{}", q), false, c_chunks_[q].first,
                                  c_chunks_[q].second, m,
                                  shape.type == ElementType::I8 ? ElementType::I32 : ElementType::F32,
                                  static_cast<std::uint32_t>(m * lanes_out)});

  Scheduler scheduler(chip_, fp, program_);
  Emitter emit(scheduler);
  const int planes = fp.mxm_planes();
  const std::uint32_t tile = static_cast<std::uint32_t>(chip_.mxm_accumulator_rows / 2);
  std::vector<std::uint32_t> acc_half(planes, 0);
  for (std::uint32_t r0 = 0; r0 < m; r0 += tile) {
    const std::uint32_t rows = std::min(tile, m - r0);
    for (std::int64_t j0 = 0; j0 < blocks_; j0 += planes) {
      const std::int64_t j1 = std::min<std::int64_t>(blocks_, j0 + planes);
      for (std::int64_t step = 0; step < chunks_; ++step)
        for (std::int64_t j = j0; j < j1; ++j) {
          // Planes walk the K chunks skewed, so that they read different slices of A at once.
          const std::int64_t c = (step + (j - j0)) % chunks_;
          const WeightBlock& b = w_blocks_[j * chunks_ + c];
          const std::string what = fmt::format("gemm block {} chunk {} rows {}", j, c, r0);
          const std::uint32_t block_rows =
              static_cast<std::uint32_t>(std::min<std::int64_t>(rows_per_block, shape.n - j * rows_per_block));
          emit.load_block(b.plane, b.slices, b.addr, block_rows, what);
          emit.install_weights(b.plane, block_rows, shape.type, what);
          emit.compute(b.plane, {a_chunks_[c].first, a_chunks_[c].second + r0, 1},
                       acc_half[b.plane] * tile, 1, step > 0, rows, what);
        }
      for (std::int64_t j = j0; j < j1; ++j) {
        const int plane = static_cast<int>(j % planes);
        std::array<VecRef, 4> out;
        for (int q = 0; q < quarters && q < 4; ++q) {
          const auto& cc = c_chunks_[j * quarters + q];
          out[q] = {cc.first, cc.second + r0, 1};
        }
        emit.emit(plane, acc_half[plane] * tile, out, rows, fmt::format("gemm emit block {}", j));
        acc_half[plane] ^= 1;
      }
    }
  }
  if (reduced) {
    try {
      all_reduce_output(emit, alloc, reduce);
    } catch (const DoesNotFit&) {
      throw DoesNotFit(fmt::format(
          "the partial C of {}x{} (fp32, {:.1f} MiB) and its all-reduce's buffers do not fit one {} chip beside "
          "A and W",
          shape.m, shape.n, shape.m * shape.n * 4 / 1048576.0, system.name));
    }
  }
  program_.predicted_cycles = scheduler.finish();
  check_program(program_, chip_, fp);
}

// C's chunks, each m vectors in one slice: to fp32 (int8's int32 sums), then the butterfly of
// all_reduce_lowering.h into a new tensor per chunk, which the output buffers name.
void GemmProgram::all_reduce_output(Emitter& emit, MemAllocator& alloc, const GemmAllReduce& reduce) {
  alloc.set_strict(true);
  VectorBuilder vb(emit, alloc);
  const std::uint32_t m = static_cast<std::uint32_t>(shape_.m);
  Stripes partial, sum;
  std::vector<VTensor> results;
  results.reserve(c_chunks_.size());
  for (std::size_t q = 0; q < c_chunks_.size(); ++q) {
    VTensor chunk{fmt::format("c.{}", q), Placed{{c_chunks_[q].first}, c_chunks_[q].second, m}};
    if (shape_.type == ElementType::I8) {  // one stripe, as the all-reduce takes it
      VTensor f32 = vb.alloc(chunk.name + ".f32", m, 1, {&chunk});
      std::vector<VectorStep> steps;
      for (std::uint32_t i = 0; i < m; ++i) steps.push_back({{chunk.at(i)}, f32.at(i)});
      vb.map(Opcode::ConvertI32ToF32, steps, 0, 0.0f, chunk.name + ".f32");
      chunk = f32;
    }
    results.push_back(vb.alloc(fmt::format("c.{}.sum", q), m, 1, {&chunk}));
    partial.push_back({chunk.at(0), m});
    sum.push_back({results.back().at(0), m});
  }
  std::vector<const VTensor*> near;
  for (const VTensor& r : results) near.push_back(&r);
  lower_butterfly_all_reduce(vb, reduce.ranks, {reduce.occupancy, reduce.transfer}, partial, sum, near, "c");
  const auto lanes = static_cast<std::uint32_t>(chip_.fp32_lanes());
  for (std::size_t q = 0; q < results.size(); ++q)
    program_.buffers.push_back({fmt::format("c.{}", q), false, results[q].place.slices[0], results[q].place.addr, m,
                                ElementType::F32, m * lanes});
}

std::uint64_t GemmProgram::macs() const {
  return static_cast<std::uint64_t>(shape_.m) * shape_.k * shape_.n;
}

std::vector<MemorySegment> GemmProgram::pack_inputs(std::span<const std::uint8_t> a,
                                                    std::span<const std::uint8_t> w) const {
  const int eb = element_bytes(shape_.type);
  if (a.size() != static_cast<std::size_t>(shape_.m * shape_.k * eb) ||
      w.size() != static_cast<std::size_t>(shape_.n * shape_.k * eb))
    fail("GEMM inputs have the wrong size for {}x{}x{}", shape_.m, shape_.k, shape_.n);
  const std::size_t vb = chip_.vector_bytes;
  std::vector<MemorySegment> segments;
  // A: chunk c, row r -> vector r of the chunk's column; zero beyond k.
  for (std::int64_t c = 0; c < chunks_; ++c) {
    MemorySegment seg{a_chunks_[c].first, a_chunks_[c].second,
                      std::vector<std::uint8_t>(shape_.m * vb, 0)};
    const std::int64_t k0 = c * elements_per_vector_;
    const std::int64_t kn = std::min<std::int64_t>(elements_per_vector_, shape_.k - k0);
    for (std::int64_t r = 0; r < shape_.m; ++r)
      std::memcpy(&seg.bytes[r * vb], &a[(r * shape_.k + k0) * eb], kn * eb);
    segments.push_back(std::move(seg));
  }
  // W: block (j, c) row r (output 320j + r) -> slices[r % W], addr + r / W (W = its slices).
  const std::int64_t rows_per_block = chip_.mxm_plane_rows;
  for (std::int64_t j = 0; j < blocks_; ++j)
    for (std::int64_t c = 0; c < chunks_; ++c) {
      const WeightBlock& b = w_blocks_[j * chunks_ + c];
      const int width = static_cast<int>(b.slices.size());
      const std::int64_t k0 = c * elements_per_vector_;
      const std::int64_t kn = std::min<std::int64_t>(elements_per_vector_, shape_.k - k0);
      for (int s = 0; s < width; ++s) {
        const std::int64_t depth = (rows_per_block + width - 1) / width;
        MemorySegment seg{b.slices[s], b.addr, std::vector<std::uint8_t>(depth * vb, 0)};
        for (std::int64_t d = 0; d < depth; ++d) {
          const std::int64_t row = j * rows_per_block + d * width + s;
          if (d * width + s >= rows_per_block || row >= shape_.n) continue;
          std::memcpy(&seg.bytes[d * vb], &w[(row * shape_.k + k0) * eb], kn * eb);
        }
        segments.push_back(std::move(seg));
      }
    }
  return segments;
}

std::vector<std::uint8_t> GemmProgram::unpack_output(
    const std::function<std::vector<std::uint8_t>(const HostBuffer&)>& read) const {
  std::vector<std::uint8_t> c(static_cast<std::size_t>(shape_.m * shape_.n * 4), 0);
  const int lanes = chip_.fp32_lanes();
  for (const HostBuffer& b : program_.buffers) {
    if (b.is_input) continue;
    const std::int64_t q = std::stoll(b.name.substr(2));
    const std::vector<std::uint8_t> bytes = read(b);
    for (std::int64_t r = 0; r < shape_.m; ++r)
      for (int l = 0; l < lanes; ++l) {
        const std::int64_t col = q * lanes + l;
        if (col >= shape_.n) break;
        std::memcpy(&c[(r * shape_.n + col) * 4], &bytes[r * chip_.vector_bytes + l * 4], 4);
      }
  }
  return c;
}

}  // namespace lockstep::compiler
