#include "lpu/arch/floorplan.h"

#include <fmt/format.h>

#include "core/error.h"

namespace lockstep::lpu {

Floorplan::Floorplan(const ChipConfig& chip)
    : mem_per_hemisphere_(chip.mem_slices_per_hemisphere),
      planes_per_hemisphere_(chip.mxm_planes_per_hemisphere),
      vxm_alus_(chip.vxm_alus) {
  const int half = planes_per_hemisphere_ + 1 + mem_per_hemisphere_;
  positions_ = 2 * half + 1;
  vxm_position_ = half;

  for (int slice = 0; slice < mem_slices(); ++slice) {
    const Hemisphere h = mem_hemisphere(slice);
    const int local = slice % mem_per_hemisphere_;
    queues_.push_back({Unit::Mem, h, mem_position(slice), slice,
                       fmt::format("mem.{}{}", h == Hemisphere::West ? 'w' : 'e', local)});
  }
  for (Hemisphere h : {Hemisphere::West, Hemisphere::East})
    queues_.push_back({Unit::Sxm, h, sxm_position(h), static_cast<int>(h),
                       fmt::format("sxm.{}", h == Hemisphere::West ? 'w' : 'e')});
  for (int plane = 0; plane < mxm_planes(); ++plane) {
    const Hemisphere h = mxm_hemisphere(plane);
    const int local = plane % planes_per_hemisphere_;
    for (auto [unit, suffix] : {std::pair{Unit::MxmLoad, "lw"}, std::pair{Unit::MxmCompute, "abc"},
                                std::pair{Unit::MxmEmit, "emit"}})
      queues_.push_back({unit, h, mxm_position(plane), plane,
                         fmt::format("mxm.{}{}.{}", h == Hemisphere::West ? 'w' : 'e', local,
                                     suffix)});
  }
  for (int alu = 0; alu < vxm_alus_; ++alu)
    queues_.push_back({Unit::Vxm, Hemisphere::West, vxm_position_, alu, fmt::format("vxm.{}", alu)});
  for (int channel = 0; channel < kC2cChannels; ++channel)
    for (bool transmit : {true, false})
      queues_.push_back({Unit::C2c,
                         channel < kC2cChannels / 2 ? Hemisphere::West : Hemisphere::East,
                         c2c_position(channel), channel,
                         fmt::format("c2c.{}.{}", channel, transmit ? "tx" : "rx"), transmit});
  // The hemisphere's further SXM queues come last, so that the ids of the others do not depend
  // on how many there are: sxm.w1, sxm.w2, ... beside sxm.w.
  for (Hemisphere h : {Hemisphere::West, Hemisphere::East}) {
    sxm_queues_[static_cast<int>(h)].push_back(sxm_queue(h));
    for (int i = 1; i < chip.sxm_queues_per_hemisphere; ++i) {
      sxm_queues_[static_cast<int>(h)].push_back(static_cast<int>(queues_.size()));
      queues_.push_back({Unit::Sxm, h, sxm_position(h), static_cast<int>(h),
                         fmt::format("sxm.{}{}", h == Hemisphere::West ? 'w' : 'e', i)});
    }
  }
}

int Floorplan::c2c_position(int channel) const {
  if (channel < 0 || channel >= kC2cChannels) fail("C2C channel {} does not exist", channel);
  return sxm_position(channel < kC2cChannels / 2 ? Hemisphere::West : Hemisphere::East);
}

int Floorplan::c2c_queue(int channel, bool transmit) const {
  c2c_position(channel);  // range check
  return mem_slices() + 2 + 3 * mxm_planes() + vxm_alus_ + 2 * channel + (transmit ? 0 : 1);
}

int Floorplan::mem_position(int slice) const {
  if (slice < 0 || slice >= mem_slices()) fail("MEM slice {} does not exist", slice);
  const int local = slice % mem_per_hemisphere_;
  return mem_hemisphere(slice) == Hemisphere::West ? vxm_position_ - 1 - local
                                                   : vxm_position_ + 1 + local;
}

Hemisphere Floorplan::mem_hemisphere(int slice) const {
  return slice < mem_per_hemisphere_ ? Hemisphere::West : Hemisphere::East;
}

int Floorplan::sxm_position(Hemisphere h) const {
  return h == Hemisphere::West ? planes_per_hemisphere_ : positions_ - 1 - planes_per_hemisphere_;
}

int Floorplan::mxm_position(int plane) const {
  if (plane < 0 || plane >= mxm_planes()) fail("MXM plane {} does not exist", plane);
  const int local = plane % planes_per_hemisphere_;  // 0 is the inner plane
  return mxm_hemisphere(plane) == Hemisphere::West ? planes_per_hemisphere_ - 1 - local
                                                   : positions_ - planes_per_hemisphere_ + local;
}

Hemisphere Floorplan::mxm_hemisphere(int plane) const {
  return plane < planes_per_hemisphere_ ? Hemisphere::West : Hemisphere::East;
}

int Floorplan::mem_queue(int slice) const {
  mem_position(slice);  // range check
  return slice;
}

int Floorplan::sxm_queue(Hemisphere h) const { return mem_slices() + static_cast<int>(h); }

int Floorplan::mxm_queue(int plane, Unit unit) const {
  mxm_position(plane);  // range check
  const int base = mem_slices() + 2 + 3 * plane;
  switch (unit) {
    case Unit::MxmLoad: return base;
    case Unit::MxmCompute: return base + 1;
    case Unit::MxmEmit: return base + 2;
    default: fail("{} is not an MXM queue", unit_name(unit));
  }
}

int Floorplan::vxm_queue(int alu) const {
  if (alu < 0 || alu >= vxm_alus_) fail("VXM ALU {} does not exist", alu);
  return mem_slices() + 2 + 3 * mxm_planes() + alu;
}

int Floorplan::find_queue(const std::string& name) const {
  for (int q = 0; q < queue_count(); ++q)
    if (queues_[q].name == name) return q;
  return -1;
}

Direction direction_towards(int from, int to) {
  return to > from ? Direction::East : Direction::West;
}

}  // namespace lockstep::lpu
