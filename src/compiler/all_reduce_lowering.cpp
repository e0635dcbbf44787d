#include "compiler/all_reduce_lowering.h"

#include <fmt/core.h>

#include "compiler/mem_allocator.h"
#include "compiler/scheduler.h"
#include "core/error.h"
#include "lpu/arch/topology.h"

namespace lockstep::compiler {

void lower_butterfly_all_reduce(VectorBuilder& vb, int ranks, const LinkCycles& link, const Stripes& mine,
                                const Stripes& out, const std::vector<const VTensor*>& near,
                                const std::string& name) {
  constexpr std::uint32_t kChunk = 1;  // vectors that go through the steps together
  Emitter& emitter = vb.emitter();
  for (std::size_t k = 0; k < mine.size(); ++k)
    for (std::uint32_t first = 0; first < mine[k].second; first += kChunk) {
      const std::uint32_t n = std::min(kChunk, mine[k].second - first);
      auto chunk = [&](const VecRef& stripe) { return VTensor{name, Placed{{stripe.slice}, stripe.addr + first, n}}; };
      VTensor current = chunk(mine[k].first);
      for (int s = 0; (1 << s) < ranks; ++s) {
        const std::string sn = fmt::format("{}.allreduce.{}", name, s);
        std::vector<const VTensor*> avoid = near;
        avoid.push_back(&current);
        const VTensor theirs = vb.alloc(sn, n, 1, avoid);
        std::vector<std::uint64_t> arrivals =
            emitter.send(current.at(0), {kChannelButterfly + s}, n, link.occupancy, sn + " send");
        for (std::uint64_t& a : arrivals) a += link.transfer;
        emitter.receive(kChannelButterfly + s, theirs.at(0), arrivals, link.occupancy, sn + " receive");
        const bool last = (2 << s) >= ranks;
        avoid.push_back(&theirs);
        const VTensor sum = last ? chunk(out[k].first) : vb.alloc(sn + ".sum", n, 1, avoid);
        std::vector<VectorStep> adds;
        for (std::uint32_t i = 0; i < n; ++i) adds.push_back({{current.at(i), theirs.at(i)}, sum.at(i)});
        vb.map(Opcode::Add, adds, 0, 0.0f, sn + ".sum");
        current = sum;
      }
    }
}

namespace {

Stripes stripes_of(const Placed& p) {
  Stripes out;
  for (int s = 0; s < p.stripes(); ++s) out.push_back({VecRef{p.slices[s], p.addr, 1}, p.stripe_vectors(s)});
  return out;
}

}  // namespace

int direct_link(const Topology& topology, int from, int to) {
  for (int l = 0; l < topology.links_per_chip(); ++l)
    if (topology.peer(from, l).chip == to) return l;
  fail("chip {} has no direct link to chip {}", from, to);
}

void map_butterfly_channels(const Topology& topology, int rank, int ranks, ChipAssignment& chip) {
  for (int s = 0; (1 << s) < ranks; ++s)
    chip.channel_links[kChannelButterfly + s] = direct_link(topology, rank, rank ^ (1 << s));
}

AllReduceProgram::AllReduceProgram(const SystemConfig& system, std::int64_t bytes, int ranks) : ranks_(ranks) {
  const ChipConfig& chip = system.chip;
  const Topology topology(system);
  if (ranks < 2 || (ranks & (ranks - 1)) != 0)
    fail("an all-reduce runs over a power of two of chips, at least 2; {} given", ranks);
  if (ranks > system.topology.chips_per_node || ranks > system.topology.chips)
    fail("{} has {} chips per node; an all-reduce over {} chips would leave the node", system.name,
         system.topology.chips_per_node, ranks);
  if (bytes < 1) fail("an all-reduce needs at least one byte, not {}", bytes);
  const std::int64_t vectors = (bytes + chip.vector_bytes - 1) / chip.vector_bytes;
  const Floorplan fp(chip);
  // The input, the output and every step's temporaries stay placed: keep them to a few slices.
  constexpr std::int64_t kMaxVectors = 16384;
  if (vectors > kMaxVectors)
    fail("{} bytes ({} vectors) is more than this benchmark places: at most {} bytes", bytes, vectors,
         kMaxVectors * chip.vector_bytes);
  vectors_ = static_cast<std::uint32_t>(vectors);
  bytes_ = vectors * chip.vector_bytes;

  LinkCycles link;
  link.occupancy = static_cast<std::uint16_t>(topology.link_occupancy_cycles(chip.vector_bytes));
  link.transfer = static_cast<std::uint32_t>(topology.link_transfer_cycles(chip.vector_bytes));
  Program program;
  program.system = system.name;
  program.description = fmt::format("all-reduce of {} bytes (fp32) over {} chips", bytes_, ranks);
  MemAllocator alloc(chip, fp);
  alloc.set_strict(true);
  Scheduler scheduler(chip, fp, program);
  Emitter emitter(scheduler);
  VectorBuilder vb(emitter, alloc);
  const VTensor input = vb.alloc("input", vectors_, 4);
  const VTensor output = vb.alloc("output", vectors_, 4, {&input});
  lower_butterfly_all_reduce(vb, ranks, link, stripes_of(input.place), stripes_of(output.place), {&input, &output},
                             "sum");
  program.predicted_cycles = scheduler.finish();
  for (const auto& [tensor, is_input] : {std::pair{&input, true}, std::pair{&output, false}})
    for (int s = 0; s < tensor->place.stripes(); ++s)
      program.buffers.push_back({fmt::format("{}.{}", tensor->name, s), is_input, tensor->place.slices[s],
                                 tensor->place.addr, tensor->place.stripe_vectors(s), ElementType::F32,
                                 tensor->place.stripe_vectors(s) * static_cast<std::uint32_t>(chip.fp32_lanes())});

  program_.system = system.name;
  program_.description = program.description;
  program_.predicted_cycles = program.predicted_cycles;
  program_.programs.push_back(std::move(program));
  for (int rank = 0; rank < ranks; ++rank) {
    ChipAssignment a;
    a.chip = rank;
    a.program = 0;
    a.role = fmt::format("rank {}", rank);
    map_butterfly_channels(topology, rank, ranks, a);
    program_.chips.push_back(std::move(a));
  }
}

}  // namespace lockstep::compiler
