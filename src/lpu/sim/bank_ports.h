// The one port of every MEM bank: each bank serves at most one access per cycle (a Read or
// Gather at its issue cycle, a Write or Scatter commit at issue + delay). The simulator books
// the commits here and checks each access against them; a second use of a bank in a cycle is a
// violation.
//
// Storage: per bank a ring of `window` cycles (a power of two larger than the largest MEM delay,
// so bookings from issue cycle c to c + delay never alias when the caller executes iterations in
// nondecreasing issue cycle). A slot holding another cycle is stale and free. Who booked is not
// kept: the caller can work it out from the program when it needs to say so.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace lockstep::lpu {

class BankPorts {
 public:
  BankPorts(int banks, int window)
      : mask_(static_cast<std::uint32_t>(window) - 1),
        shift_(0),
        cycles_(static_cast<std::size_t>(banks) * window,
                std::numeric_limits<std::int64_t>::min()) {
    while ((1 << shift_) < window) ++shift_;
  }

  bool booked(int bank, std::int64_t cycle) const {
    return cycles_[(static_cast<std::size_t>(bank) << shift_) +
                   (static_cast<std::uint32_t>(cycle) & mask_)] == cycle;
  }

  // Books `bank` for `cycle`; false (nothing changed) if it is already booked then.
  [[gnu::always_inline]] bool book(int bank, std::int64_t cycle) {
    std::int64_t& slot = cycles_[(static_cast<std::size_t>(bank) << shift_) +
                                 (static_cast<std::uint32_t>(cycle) & mask_)];
    if (slot == cycle) return false;
    slot = cycle;
    return true;
  }

 private:
  std::uint32_t mask_;  // window - 1 (32-bit: a different type from the int64 cycles stored)
  int shift_;           // log2(window)
  std::vector<std::int64_t> cycles_;  // [bank][window] cycle booked
};

}  // namespace lockstep::lpu
