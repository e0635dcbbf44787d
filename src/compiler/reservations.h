// The compiler's book of every resource it has promised: instruction queues (in-order, so one
// watermark each), MEM bank ports (one access per bank per cycle), stream diagonals (a value
// written at (p, c) occupies positions p..reach on the key c - p eastward, c + p westward) and
// the readiness of every MEM vector (when its last write commits, when it was last read).
// The scheduler asks and books here; the simulator checks the same rules independently.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "lpu/arch/floorplan.h"
#include "lpu/arch/isa.h"
#include "lpu/arch/system_config.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

// A bit per (key, slot) that grows in 4096-key chunks on demand, so memory follows use.
class ChunkedBits {
 public:
  explicit ChunkedBits(int slots_per_key);
  // True when any slot in [lo, hi] is set at key.
  bool any(std::int64_t key, int lo, int hi) const;
  void set_range(std::int64_t key, int lo, int hi);

 private:
  static constexpr std::int64_t kChunkKeys = 4096;
  int words_per_key_;
  std::vector<std::unique_ptr<std::uint64_t[]>> chunks_;
  const std::uint64_t* word(std::int64_t key, int slot) const;
  std::uint64_t* word_for_write(std::int64_t key, int slot);
};

// One bit per cycle, growing on demand (a queue's or a bank's busy cycles); spans are tested and
// set a 64-bit word at a time.
class CycleBits {
 public:
  bool test(std::uint64_t cycle) const {
    const std::size_t w = cycle / 64;
    return w < words_.size() && ((words_[w] >> (cycle % 64)) & 1);
  }
  // The last set cycle in [first, last], or -1.
  std::int64_t last_set(std::uint64_t first, std::uint64_t last) const;
  // The first clear cycle at or after `from`.
  std::uint64_t next_clear(std::uint64_t from) const;
  void set_span(std::uint64_t first, std::uint64_t last);
  void set(std::uint64_t cycle) { set_span(cycle, cycle); }

 private:
  std::vector<std::uint64_t> words_;
};

class Reservations {
 public:
  Reservations(const ChipConfig& chip, const Floorplan& floorplan);

  // Queues. MXM queues are booked in program order (a watermark: the first cycle the queue may
  // issue next), because the MXM's internal state follows that order. Every other queue keeps a
  // map of busy cycles, so a later group may fill an earlier gap; its instructions are sorted by
  // cycle when the schedule is finished. An instruction holds its queue from its first issue to
  // its last.
  std::uint64_t queue_free(int q) const { return queue_free_[q]; }
  bool in_order(int q) const { return in_order_[q]; }
  bool queue_span_free(int q, std::uint64_t first, std::uint64_t last) const;
  // The last busy cycle of queue q in [first, last], or -1 when the span is free (an in-order
  // queue is busy up to queue_free - 1).
  std::int64_t last_busy(int q, std::uint64_t first, std::uint64_t last) const;
  // The first cycle at or after `from` at which queue q is free.
  std::uint64_t next_free(int q, std::uint64_t from) const;
  void occupy_queue(int q, std::uint64_t first, std::uint32_t repeat, std::uint16_t stride);

  // Banks: one access (read at issue, or write commit) per bank per cycle.
  bool bank_free(int slice, std::uint32_t addr, std::uint64_t cycle) const;
  void take_bank(int slice, std::uint32_t addr, std::uint64_t cycle);

  // Streams. A value written at (from, cycle) travelling to `reach`.
  // Biased by 256 (positions fit in a byte) so that early eastward keys are not negative.
  static std::int64_t diagonal_key(Direction d, std::uint64_t cycle, int position) {
    return 256 + (d == Direction::East ? static_cast<std::int64_t>(cycle) - position
                                       : static_cast<std::int64_t>(cycle) + position);
  }
  bool stream_free(Direction d, int index, std::uint64_t cycle, int from, int reach) const;
  void take_stream(Direction d, int index, std::uint64_t cycle, int from, int reach);

  // MEM data readiness. visible_from: first cycle a read sees the latest value.
  std::uint64_t visible_from(int slice, std::uint32_t addr) const;
  // Reads at `cycle` done; a later write must commit after it.
  void note_read(int slice, std::uint32_t addr, std::uint64_t cycle);
  // The first cycle a write to addr may commit (after every read and write of it so far).
  std::uint64_t write_allowed_from(int slice, std::uint32_t addr) const;
  void note_write(int slice, std::uint32_t addr, std::uint64_t commit_cycle);

  // The same readiness with every resource free (the dataflow bound, program.h): the first
  // cycle a read could see the latest value had every group run as soon as its data was ready.
  std::uint64_t ideal_visible_from(int slice, std::uint32_t addr) const {
    return ideal_visible_[static_cast<std::size_t>(slice) * slice_vectors_ + addr];
  }
  void note_ideal_write(int slice, std::uint32_t addr, std::uint64_t commit_cycle) {
    ideal_visible_[static_cast<std::size_t>(slice) * slice_vectors_ + addr] = commit_cycle + 1;
  }
  std::uint64_t ideal_last_effect() const { return ideal_last_effect_; }
  void note_ideal_effect(std::uint64_t cycle) { ideal_last_effect_ = std::max(ideal_last_effect_, cycle); }

  // The last cycle of any effect booked so far (for the end-of-run prediction).
  std::uint64_t last_effect() const { return last_effect_; }
  void note_effect(std::uint64_t cycle) { last_effect_ = std::max(last_effect_, cycle); }


 private:
  const ChipConfig& chip_;
  int slice_vectors_;
  std::vector<std::uint64_t> queue_free_;           // [queue]
  std::vector<bool> in_order_;                      // [queue] booked by watermark
  std::vector<CycleBits> queue_busy_;               // [queue] busy cycles (not in_order)
  std::vector<CycleBits> bank_busy_;                // [slice * banks + bank]
  std::vector<ChunkedBits> stream_busy_;            // [direction * streams + index], slot = position
  std::vector<std::uint64_t> visible_;              // [slice * slice_vectors + addr]
  std::vector<std::int64_t> last_read_;             // idem, -1 = never
  std::vector<std::uint64_t> ideal_visible_;        // idem, with every resource free
  std::uint64_t last_effect_ = 0;
  std::uint64_t ideal_last_effect_ = 0;
};

}  // namespace lockstep::compiler
