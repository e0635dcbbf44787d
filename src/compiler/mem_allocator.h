// Placement of tensors into MEM slices. A placed tensor is `vectors` 320-byte vectors striped
// over a few slices: vector v lives in slices[v % S] at address addr + v / S (the same address
// range is taken in every slice of the stripe). Striping lets several units stream a tensor at
// once (an MXM Emit writes 4 vectors per cycle, one per slice).
//
// Two pools: activations (and the KV cache) in the slices nearest the VXM, so that element-wise
// round trips are short; weights in the outer slices, nearest the MXM planes. When a pool is
// full the allocator keeps counting, so the compiler can say how many chips the model needs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program.h"
#include "lpu/arch/system_config.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

struct Placed {
  std::vector<int> slices;   // global MEM slice of each stripe
  std::uint32_t addr = 0;    // first address in each stripe
  std::uint32_t vectors = 0;

  int stripes() const { return static_cast<int>(slices.size()); }
  int slice_of(std::uint32_t v) const { return slices[v % slices.size()]; }
  std::uint32_t addr_of(std::uint32_t v) const {
    return addr + v / static_cast<std::uint32_t>(slices.size());
  }
  // Vectors held by stripe s.
  std::uint32_t stripe_vectors(int s) const {
    const std::uint32_t n = static_cast<std::uint32_t>(slices.size());
    return vectors / n + (static_cast<std::uint32_t>(s) < vectors % n ? 1 : 0);
  }
};

// Activations: the slices nearest the VXM (short round trips for dependent chains); Weights:
// the outer slices, nearest the MXM planes; Anywhere: every slice, near ones first, for many
// independent temporaries whose traffic would crowd the near slices' queues.
enum class Pool { Activations, Weights, Anywhere };

// One placement, as `lockstep compile --dump-after placement` lists it.
struct Allocation {
  std::string name;
  Placed place;
};

class MemAllocator {
 public:
  MemAllocator(const ChipConfig& chip, const Floorplan& floorplan, int activation_slices = 24);

  // Places `vectors` striped over `stripes` slices of `pool`, avoiding the slices in `avoid`
  // where possible. `what` names the tensor in reports.
  Placed allocate(const std::string& what, std::uint32_t vectors, int stripes, Pool pool,
                  const std::vector<int>& avoid = {});
  // One part of a Gather / Scatter table of rows of `row_vectors` vectors: up to `max_rows`
  // rows in one bank of one slice (the bank a Gather uses is fixed when it issues, whatever row
  // it reads), on the slice of `pool` (else of the other pool) whose bank has room for the most
  // rows, so that a large table fills the ends of partly used banks. Returns the rows placed;
  // when no bank has room for a row, counts max_rows as overflow (or throws, when strict).
  // A slice in `avoid` is taken only when no other has room for as many rows.
  std::pair<Placed, std::uint32_t> allocate_table_part(const std::string& what, std::uint32_t row_vectors,
                                                       std::uint32_t max_rows, Pool pool,
                                                       const std::vector<int>& avoid = {});
  // Places over exactly these slices (e.g. the 16 slices that feed one MXM plane).
  Placed allocate_on(const std::string& what, std::uint32_t vectors, const std::vector<int>& slices);

  // Slices of a pool, nearest the VXM first.
  const std::vector<int>& pool_slices(Pool pool) const;

  // Everything allocated after mark() is freed by release(mark): temporaries of one layer. The
  // scheduler's readiness book keeps reuse safe (a new write waits for the old reads).
  struct Mark {
    std::vector<std::uint32_t> top;
  };
  Mark mark() const { return {top_}; }
  void release(const Mark& m) { top_ = m.top; }

  // After set_strict(), running out of room throws instead of counting (the lowering's
  // temporaries must fit; only the placement pass sizes a model that does not).
  void set_strict(bool strict) { strict_ = strict; }

  // Every placement so far, in order (released ones included).
  const std::vector<Allocation>& log() const { return log_; }

  bool overflowed() const { return overflow_bytes_ > 0; }
  std::uint32_t top(int slice) const { return top_[slice]; }  // first free address
  std::uint64_t free_vectors(Pool pool) const;  // above the tops of the pool's slices
  std::uint64_t used_bytes() const { return used_bytes_; }          // placed, bytes
  std::uint64_t requested_bytes() const { return used_bytes_ + overflow_bytes_; }
  std::uint64_t capacity_bytes() const;

 private:
  const ChipConfig& chip_;
  std::uint32_t slice_vectors_;
  std::vector<std::uint32_t> top_;  // [slice] next free address
  std::vector<int> activation_pool_;
  std::vector<int> weight_pool_;
  std::vector<int> every_slice_;  // activation_pool_ then weight_pool_
  std::size_t next_group_[3] = {0, 0, 0};
  std::uint64_t used_bytes_ = 0;
  std::uint64_t overflow_bytes_ = 0;
  std::vector<Allocation> log_;
  bool strict_ = false;
};

// Appends the memory segments that put fp32 `values` (zero-padded to whole vectors) into the
// vectors of `place`, one segment per stripe.
void append_fp32_segments(const Placed& place, std::span<const float> values, int vector_bytes,
                          std::vector<MemorySegment>& memory);

// The placement pass's verifier: every allocation of `log` inside its slice, and no two live at
// once on the same addresses (an allocation made after a release may reuse what was released,
// so only the first `live` entries are checked against each other). Throws lockstep::Error.
void verify_placement(const std::vector<Allocation>& log, std::size_t live, const ChipConfig& chip);

}  // namespace lockstep::compiler
