// The simulator's check of memory data hazards: does the schedule keep the program's memory
// order (program.h, Instruction::order)? A program means what its groups would do run one after
// another in that order; the schedule overlaps them, which is only right if every MEM read still
// finds the value that order gives it. Per MEM vector this keeps the order of the write last
// committed and the largest order that has read it, and checks, with orders r (read) and w
// (write) of instructions that declare one (order 0 is not checked):
//   - a read of order r finds the last committed write of order < r: a committed write of a
//     later order has overwritten the value it relies on ("a write over data not yet read");
//   - a write of order w commits while no read of a later order has taken the vector yet, and
//     over no write of a later order: else a read ran before the write it relies on committed
//     (or two writes landed out of order).
// A write committed at cycle c is visible to reads from c + 1 (simulator.h), so commits are
// applied, in cycle order, before the reads of the next cycle. Gather and Scatter may touch any
// row of their table, so they check and record every row (as the compiler orders them). The
// state starts empty at every run: what the host or an earlier run wrote precedes every order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

namespace lockstep::lpu {

class MemoryOrder {
 public:
  // What a check found wrong (kind None: nothing).
  struct Fault {
    enum class Kind : std::uint8_t { None, ReadAfterLaterWrite, ReadBeforeWrite, WritesOutOfOrder };
    Kind kind = Kind::None;
    std::uint32_t other_order = 0;  // the later write (reads) or read / write (commits)
    explicit operator bool() const { return kind != Kind::None; }
  };

  MemoryOrder(int slices, std::int64_t slice_vectors, int commit_window)
      : slice_vectors_(slice_vectors),
        mask_(static_cast<std::uint64_t>(commit_window) - 1),
        state_(static_cast<std::size_t>(slices)),
        buckets_(static_cast<std::size_t>(commit_window)) {}

  // A read of (slice, addr) by an instruction of `order` (> 0).
  Fault read(int slice, std::int64_t addr, std::uint32_t order) {
    Entry& e = entry(slice, addr);
    if (e.last_write > order) return {Fault::Kind::ReadAfterLaterWrite, e.last_write};
    if (order > e.max_read) e.max_read = order;
    return {};
  }

  // A write of `order` (> 0) by decoded instruction `writer`, iteration `iteration`, that
  // commits at `cycle` (> every cycle applied so far).
  void add_commit(std::int64_t cycle, int slice, std::int64_t addr, std::uint32_t order,
                  std::uint32_t writer, std::uint32_t iteration) {
    buckets_[static_cast<std::uint64_t>(cycle) & mask_].push_back(
        {slice, addr, order, writer, iteration, cycle});
    pending_ = true;
  }

  struct Commit {
    int slice;
    std::int64_t addr;
    std::uint32_t order;
    std::uint32_t writer, iteration;
    std::int64_t cycle;
  };

  // Applies every commit of a cycle before `cycle`; on_fault(commit, fault) for a commit that
  // breaks the order (it is expected not to return).
  template <typename OnFault>
  void apply_before(std::int64_t cycle, OnFault&& on_fault) {
    if (!pending_) {
      applied_ = std::max(applied_, cycle - 1);
      return;
    }
    const std::int64_t last = std::min<std::int64_t>(cycle - 1, applied_ + static_cast<std::int64_t>(mask_ + 1));
    for (std::int64_t x = applied_ + 1; x <= last; ++x) {
      auto& bucket = buckets_[static_cast<std::uint64_t>(x) & mask_];
      for (const Commit& c : bucket) {
        Entry& e = entry(c.slice, c.addr);
        if (e.max_read > c.order) on_fault(c, Fault{Fault::Kind::ReadBeforeWrite, e.max_read});
        if (e.last_write > c.order) on_fault(c, Fault{Fault::Kind::WritesOutOfOrder, e.last_write});
        e.last_write = c.order;
      }
      bucket.clear();
    }
    applied_ = std::max(applied_, cycle - 1);
  }

  void start(std::int64_t cycle) { applied_ = cycle - 1; }

 private:
  struct Entry {
    std::uint32_t last_write = 0;  // order of the last committed write (0: before the run)
    std::uint32_t max_read = 0;    // largest order that read the vector (0: none)
  };

  Entry& entry(int slice, std::int64_t addr) {
    auto& s = state_[static_cast<std::size_t>(slice)];
    if (!s) s = std::make_unique<Entry[]>(static_cast<std::size_t>(slice_vectors_));
    return s[static_cast<std::size_t>(addr)];
  }

  std::int64_t slice_vectors_;
  std::uint64_t mask_;
  std::vector<std::unique_ptr<Entry[]>> state_;  // [slice] -> [slice_vectors], on first use
  std::vector<std::vector<Commit>> buckets_;      // [cycle mod window] commits of that cycle
  std::int64_t applied_ = 0;                      // commits of cycles <= applied_ are applied
  bool pending_ = false;
};

}  // namespace lockstep::lpu
