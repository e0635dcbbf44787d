#include "compiler/multichip_gemm.h"

#include "compiler/all_reduce_lowering.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/error.h"
#include "lpu/arch/topology.h"

namespace lockstep::compiler {

const char* gemm_split_name(GemmSplit split) { return split == GemmSplit::Columns ? "columns" : "inner"; }

SystemGemm::SystemGemm(const SystemConfig& system, const GemmShape& shape, int chips, GemmSplit split)
    : shape_(shape), chip_shape_(shape), split_(split) {
  if (chips < 2 || (chips & (chips - 1)) != 0 || chips > system.topology.chips_per_node ||
      chips > system.topology.chips)
    fail("a GEMM splits over 2, 4 or 8 chips of one node of {} ({} chips per node); {} given", system.name,
         system.topology.chips_per_node, chips);
  const Topology topology(system);
  GemmAllReduce reduce;
  if (split == GemmSplit::Columns) {
    chip_shape_.n = (shape.n + chips - 1) / chips;
  } else {
    chip_shape_.k = (shape.k + chips - 1) / chips;
    reduce.ranks = chips;
    reduce.occupancy = static_cast<std::uint16_t>(topology.link_occupancy_cycles(system.chip.vector_bytes));
    reduce.transfer = static_cast<std::uint32_t>(topology.link_transfer_cycles(system.chip.vector_bytes));
  }
  gemm_ = std::make_unique<GemmProgram>(system, chip_shape_, reduce);
  const GemmProgram& gemm = *gemm_;
  program_.system = system.name;
  program_.description = fmt::format("gemm {}x{}x{} over {} chips, split by {}", shape.m, shape.k, shape.n, chips,
                                     gemm_split_name(split));
  program_.predicted_cycles = gemm.program().predicted_cycles;
  program_.programs.push_back(gemm.program());
  for (int rank = 0; rank < chips; ++rank) {
    ChipAssignment a;
    a.chip = rank;
    a.role = fmt::format("rank {}", rank);
    if (split == GemmSplit::Inner) map_butterfly_channels(topology, rank, chips, a);
    program_.chips.push_back(std::move(a));
  }
}

void SystemGemm::set_inputs(std::span<const std::uint8_t> a, std::span<const std::uint8_t> w) {
  const std::size_t eb = shape_.type == ElementType::I8 ? 1 : 2;
  if (a.size() != static_cast<std::size_t>(shape_.m * shape_.k) * eb ||
      w.size() != static_cast<std::size_t>(shape_.n * shape_.k) * eb)
    fail("A and W must be {}x{} and {}x{} elements", shape_.m, shape_.k, shape_.n, shape_.k);
  const auto m = static_cast<std::size_t>(shape_.m), k = static_cast<std::size_t>(shape_.k);
  const auto n = static_cast<std::size_t>(shape_.n);
  const auto ck = static_cast<std::size_t>(chip_shape_.k), cn = static_cast<std::size_t>(chip_shape_.n);
  for (std::size_t r = 0; r < program_.chips.size(); ++r) {
    // This rank's A [m][ck] and W [cn][ck], zero past the matrix's edge.
    std::vector<std::uint8_t> ar(m * ck * eb, 0), wr(cn * ck * eb, 0);
    const std::size_t k0 = split_ == GemmSplit::Inner ? r * ck : 0;
    const std::size_t n0 = split_ == GemmSplit::Columns ? r * cn : 0;
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < ck && k0 + j < k; ++j)
        std::copy_n(&a[(i * k + k0 + j) * eb], eb, &ar[(i * ck + j) * eb]);
    for (std::size_t i = 0; i < cn && n0 + i < n; ++i)
      for (std::size_t j = 0; j < ck && k0 + j < k; ++j)
        std::copy_n(&w[((n0 + i) * k + k0 + j) * eb], eb, &wr[(i * ck + j) * eb]);
    program_.chips[r].memory = gemm_->pack_inputs(ar, wr);
  }
}

std::vector<std::uint8_t> SystemGemm::output(
    const std::function<std::vector<std::uint8_t>(std::size_t chip, const HostBuffer&)>& read) const {
  const auto m = static_cast<std::size_t>(shape_.m), n = static_cast<std::size_t>(shape_.n);
  const auto cn = static_cast<std::size_t>(chip_shape_.n);
  std::vector<std::uint8_t> c(m * n * 4, 0);
  const std::size_t ranks = split_ == GemmSplit::Columns ? program_.chips.size() : 1;
  for (std::size_t r = 0; r < ranks; ++r) {
    const std::vector<std::uint8_t> part =
        gemm_->unpack_output([&](const HostBuffer& b) { return read(r, b); });  // [m][cn]
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < cn && r * cn + j < n; ++j)
        std::copy_n(&part[(i * cn + j) * 4], 4, &c[(i * n + r * cn + j) * 4]);
  }
  return c;
}

std::uint64_t SystemGemm::macs() const { return static_cast<std::uint64_t>(shape_.m) * shape_.k * shape_.n; }

}  // namespace lockstep::compiler
