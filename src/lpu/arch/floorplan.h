// Where every functional slice sits on the chip's east-west axis, and the instruction queues it
// owns. Positions count slices from the west edge (0) eastward; a stream hop between adjacent
// positions takes one cycle. Per hemisphere, from the edge inwards:
//   MXM planes (mxm_planes_per_hemisphere) | SXM | MEM slices (44) | VXM (centre, shared)
// so lpu-v1 has 2 * (2 + 1 + 44) + 1 = 95 positions:
//   west: plane W1 @0, plane W0 @1, SXM W @2, MEM W43 @3 ... MEM W0 @46
//   VXM @47
//   east: MEM E0 @48 ... MEM E43 @91, SXM E @92, plane E0 @93, plane E1 @94
// MEM slice numbering runs outwards from the VXM: slice W0 and E0 are the closest to the centre.
// Global MEM slice index: west hemisphere 0..43, east 44..87.
// Queues: one per MEM slice, one per SXM, three per MXM plane (load, compute, emit), one per
// VXM ALU, then a transmit and a receive queue per C2C channel (kC2cChannels): channels
// 0 .. 7 sit with the west SXM, 8 .. 15 with the east one (the C2C units are at the chip's
// edges; an assumption: the papers do not place them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpu/arch/isa.h"
#include "lpu/arch/system_config.h"

namespace lockstep::lpu {

enum class Hemisphere : std::uint8_t { West = 0, East = 1 };

// Logical chip-to-chip channels per chip: as many as GroqChip v1 has C2C links (FACTS.md).
inline constexpr int kC2cChannels = 16;

struct QueueInfo {
  Unit unit;
  Hemisphere hemisphere;
  int position;     // slice position on the axis
  int index;        // MEM: global slice index; MXM: global plane index (0..3); VXM: ALU; SXM: 0/1;
                    // C2C: channel
  std::string name; // "mem.w12", "mxm.e1.lw", "vxm.7", "sxm.w", "sxm.w5", "c2c.3.tx"
  bool transmit = false;  // C2C: the channel's transmit (Send) queue, else its receive queue
};

class Floorplan {
 public:
  explicit Floorplan(const ChipConfig& chip);

  int positions() const { return positions_; }
  int vxm_position() const { return vxm_position_; }
  int mem_slices() const { return 2 * mem_per_hemisphere_; }
  int mxm_planes() const { return 2 * planes_per_hemisphere_; }

  int mem_position(int slice) const;          // slice: global index
  Hemisphere mem_hemisphere(int slice) const;
  int sxm_position(Hemisphere h) const;
  int mxm_position(int plane) const;          // plane: global index (west planes first)
  Hemisphere mxm_hemisphere(int plane) const;

  // Queue ids (indices into queues()).
  int mem_queue(int slice) const;
  int sxm_queue(Hemisphere h) const;               // the hemisphere's first SXM queue
  const std::vector<int>& sxm_queues(Hemisphere h) const { return sxm_queues_[static_cast<int>(h)]; }
  int mxm_queue(int plane, Unit unit) const;  // unit: MxmLoad, MxmCompute or MxmEmit
  int vxm_queue(int alu) const;
  int c2c_queue(int channel, bool transmit) const;
  int c2c_position(int channel) const;

  const std::vector<QueueInfo>& queues() const { return queues_; }
  int queue_count() const { return static_cast<int>(queues_.size()); }
  // Queue id by name ("mem.w12"), or -1.
  int find_queue(const std::string& name) const;

 private:
  int mem_per_hemisphere_;
  int planes_per_hemisphere_;
  int vxm_alus_;
  int positions_;
  int vxm_position_;
  std::vector<QueueInfo> queues_;
  std::vector<int> sxm_queues_[2];  // [hemisphere] its SXM queue ids, the first one first
};

// Direction in which a value at `from` must flow to reach `to` (from != to), and the hop count.
Direction direction_towards(int from, int to);
inline int hop_distance(int from, int to) { return from < to ? to - from : from - to; }

}  // namespace lockstep::lpu
