#include "compiler/mem_allocator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "core/error.h"

namespace lockstep::compiler {

MemAllocator::MemAllocator(const ChipConfig& chip, const Floorplan& floorplan,
                           int activation_slices)
    : chip_(chip),
      slice_vectors_(static_cast<std::uint32_t>(chip.banks_per_slice * chip.vectors_per_bank)),
      top_(floorplan.mem_slices(), 0) {
  // Alternate hemispheres, innermost first: W0, E0, W1, E1, ...
  const int per = chip.mem_slices_per_hemisphere;
  for (int local = 0; local < per; ++local)
    for (int h = 0; h < 2; ++h) {
      const int slice = h * per + local;
      (2 * local + h < activation_slices ? activation_pool_ : weight_pool_).push_back(slice);
    }
  every_slice_ = activation_pool_;
  every_slice_.insert(every_slice_.end(), weight_pool_.begin(), weight_pool_.end());
}

const std::vector<int>& MemAllocator::pool_slices(Pool pool) const {
  switch (pool) {
    case Pool::Activations: return activation_pool_;
    case Pool::Weights: return weight_pool_;
    case Pool::Anywhere: break;
  }
  return every_slice_;
}

std::uint64_t MemAllocator::capacity_bytes() const {
  return static_cast<std::uint64_t>(top_.size()) * slice_vectors_ * chip_.vector_bytes;
}

std::uint64_t MemAllocator::free_vectors(Pool pool) const {
  std::uint64_t free = 0;
  for (int s : pool_slices(pool)) free += slice_vectors_ - top_[s];
  return free;
}

Placed MemAllocator::allocate_on(const std::string& what, std::uint32_t vectors,
                                 const std::vector<int>& slices) {
  if (slices.empty()) fail("internal compiler error: {} placed on no slice", what);
  Placed p;
  p.slices = slices;
  p.vectors = vectors;
  std::uint32_t addr = 0;
  for (int s : slices) addr = std::max(addr, top_[s]);
  const std::uint32_t depth = (vectors + slices.size() - 1) / slices.size();
  const std::uint64_t bytes = std::uint64_t{vectors} * chip_.vector_bytes;
  if (std::uint64_t{addr} + depth > slice_vectors_) {
    if (strict_)
      throw DoesNotFit(fmt::format("the working tensors of this step ({}) do not fit the chip's SRAM; "
                                   "try a shorter context or prefill chunk", what));
    overflow_bytes_ += bytes;
    p.addr = 0;  // not a real placement; the compiler stops before scheduling
    return p;
  }
  for (int s : slices) top_[s] = addr + depth;
  p.addr = addr;
  used_bytes_ += bytes;
  log_.push_back({what, p});
  return p;
}

std::pair<Placed, std::uint32_t> MemAllocator::allocate_table_part(const std::string& what,
                                                                  std::uint32_t row_vectors,
                                                                  std::uint32_t max_rows, Pool pool,
                                                                  const std::vector<int>& avoid) {
  const std::uint32_t bank = static_cast<std::uint32_t>(chip_.vectors_per_bank);
  int best = -1;
  std::uint32_t best_start = 0, best_rows = 0;
  bool best_avoided = false;
  for (const Pool from : {pool, pool == Pool::Activations ? Pool::Weights : Pool::Activations}) {
    for (int s : pool_slices(from)) {
      // Room left in the bank the slice's top is in, or a whole next bank.
      std::uint32_t start = top_[s];
      std::uint32_t rows = (bank - start % bank) / row_vectors;
      if (rows == 0) {
        start = (start / bank + 1) * bank;
        rows = bank / row_vectors;
      }
      if (std::uint64_t{start} + std::uint64_t{rows} * row_vectors > slice_vectors_) continue;
      rows = std::min(rows, max_rows);
      const bool avoided = std::find(avoid.begin(), avoid.end(), s) != avoid.end();
      if (rows > best_rows || (rows == best_rows && best_avoided && !avoided))
        best = s, best_start = start, best_rows = rows, best_avoided = avoided;
    }
    if (best_rows == max_rows && !best_avoided) break;
  }
  if (best < 0) {
    if (strict_) throw DoesNotFit(fmt::format("table {} does not fit the chip's SRAM", what));
    overflow_bytes_ += std::uint64_t{max_rows} * row_vectors * chip_.vector_bytes;
    return {Placed{{pool_slices(pool).front()}, 0, max_rows * row_vectors}, max_rows};
  }
  const std::uint32_t vectors = best_rows * row_vectors;
  top_[best] = best_start + vectors;
  used_bytes_ += std::uint64_t{vectors} * chip_.vector_bytes;
  log_.push_back({what, Placed{{best}, best_start, vectors}});
  return {log_.back().place, best_rows};
}

Placed MemAllocator::allocate(const std::string& what, std::uint32_t vectors, int stripes,
                              Pool pool, const std::vector<int>& avoid) {
  const auto& slices = pool_slices(pool);
  const int n = static_cast<int>(slices.size());
  if (stripes > n) fail("internal compiler error: {} wants {} stripes of {}", what, stripes, n);
  // Round-robin over groups of `stripes` slices, skipping groups that touch `avoid`.
  std::size_t& next = next_group_[static_cast<int>(pool)];
  const int groups = n / stripes;
  const std::uint32_t depth = (vectors + stripes - 1) / stripes;  // addresses taken per slice
  std::vector<int> chosen;
  for (int tries = 0; tries < groups && chosen.empty(); ++tries) {
    const int g = static_cast<int>((next + tries) % groups);
    std::vector<int> candidate(slices.begin() + g * stripes, slices.begin() + (g + 1) * stripes);
    const bool clash = std::any_of(candidate.begin(), candidate.end(), [&](int s) {
      return std::find(avoid.begin(), avoid.end(), s) != avoid.end() ||
             (pool == Pool::Anywhere && std::uint64_t{top_[s]} + depth > slice_vectors_);
    });
    if (!clash || tries == groups - 1) {
      chosen = candidate;
      next = (g + 1) % groups;
    }
  }
  // A full pool borrows from the other one before the chip counts as full.
  std::uint32_t top = 0;
  for (int s : chosen) top = std::max(top, top_[s]);
  if (std::uint64_t{top} + depth > slice_vectors_) {
    // The other pool's slices outside `avoid`; failing that, any slice with room outside it;
    // failing that, any slice with room (`avoid` is a preference, not a reason to overflow).
    const Pool other = pool == Pool::Activations ? Pool::Weights : Pool::Activations;
    auto roomy = [&](const std::vector<int>& from, bool respect_avoid) {
      std::vector<int> got;
      for (int s : from)
        if (std::uint64_t{top_[s]} + depth <= slice_vectors_ && static_cast<int>(got.size()) < stripes &&
            (!respect_avoid || std::find(avoid.begin(), avoid.end(), s) == avoid.end()))
          got.push_back(s);
      return got;
    };
    using Try = std::pair<const std::vector<int>*, bool>;  // (slices, respect avoid)
    for (const auto& [from, respect_avoid] : {Try{&pool_slices(other), true}, Try{&every_slice_, true},
                                              Try{&every_slice_, false}}) {
      std::vector<int> got = roomy(*from, respect_avoid);
      if (static_cast<int>(got.size()) == stripes) {
        chosen = std::move(got);
        break;
      }
    }
  }
  Placed p = allocate_on(what, vectors, chosen);
  return p;
}

}  // namespace lockstep::compiler

namespace lockstep::compiler {

void append_fp32_segments(const Placed& place, std::span<const float> values, int vector_bytes,
                          std::vector<MemorySegment>& memory) {
  const std::size_t lanes = static_cast<std::size_t>(vector_bytes) / 4;
  for (int s = 0; s < place.stripes(); ++s) {
    MemorySegment seg{place.slices[s], place.addr,
                      std::vector<std::uint8_t>(std::size_t{place.stripe_vectors(s)} * vector_bytes, 0)};
    for (std::uint32_t v = static_cast<std::uint32_t>(s), k = 0; v < place.vectors;
         v += static_cast<std::uint32_t>(place.stripes()), ++k) {
      const std::size_t first = std::size_t{v} * lanes;
      if (first >= values.size()) break;
      std::memcpy(&seg.bytes[std::size_t{k} * vector_bytes], &values[first],
                  std::min(lanes, values.size() - first) * 4);
    }
    memory.push_back(std::move(seg));
  }
}

void verify_placement(const std::vector<Allocation>& log, std::size_t live, const ChipConfig& chip) {
  const std::uint64_t slice_vectors =
      static_cast<std::uint64_t>(chip.vectors_per_bank) * static_cast<std::uint64_t>(chip.banks_per_slice);
  // [slice] -> (first, end) address ranges of the live allocations.
  std::map<int, std::vector<std::pair<std::uint64_t, std::uint64_t>>> ranges;
  for (std::size_t i = 0; i < log.size(); ++i) {
    const Placed& p = log[i].place;
    for (int s = 0; s < p.stripes(); ++s) {
      const std::uint64_t first = p.addr, end = p.addr + p.stripe_vectors(s);
      if (end > slice_vectors)
        fail("placement of {} runs past the end of MEM slice {}", log[i].name, p.slices[s]);
      if (i >= live) continue;
      for (auto [a, b] : ranges[p.slices[s]])
        if (first < b && a < end)
          fail("placement of {} overlaps another tensor in MEM slice {}", log[i].name, p.slices[s]);
      ranges[p.slices[s]].push_back({first, end});
    }
  }
}

}  // namespace lockstep::compiler
