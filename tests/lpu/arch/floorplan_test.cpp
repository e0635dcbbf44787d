// The floorplan of lpu-v1: where every slice sits on the east-west axis, and its queues.
#include "lpu/arch/floorplan.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "lpu/arch/system_config.h"

namespace lockstep::lpu {
namespace {

class FloorplanTest : public ::testing::Test {
 protected:
  FloorplanTest() : plan_(load_system("lpu-v1").chip) {}
  Floorplan plan_;
};

TEST_F(FloorplanTest, PositionsOfLpuV1) {
  EXPECT_EQ(plan_.positions(), 95);  // 2 x (2 MXM + SXM + 44 MEM) + VXM
  EXPECT_EQ(plan_.vxm_position(), 47);
  EXPECT_EQ(plan_.mem_slices(), 88);
  EXPECT_EQ(plan_.mxm_planes(), 4);

  // MEM slices number outwards from the VXM: W0 and E0 are its neighbours.
  EXPECT_EQ(plan_.mem_position(0), 46);   // W0
  EXPECT_EQ(plan_.mem_position(43), 3);   // W43
  EXPECT_EQ(plan_.mem_position(44), 48);  // E0
  EXPECT_EQ(plan_.mem_position(87), 91);  // E43
  EXPECT_EQ(plan_.mem_hemisphere(43), Hemisphere::West);
  EXPECT_EQ(plan_.mem_hemisphere(44), Hemisphere::East);

  EXPECT_EQ(plan_.sxm_position(Hemisphere::West), 2);
  EXPECT_EQ(plan_.sxm_position(Hemisphere::East), 92);

  // Planes: west inner (W0) at 1, west outer (W1) at 0, east inner (E0) at 93, east outer at 94.
  EXPECT_EQ(plan_.mxm_position(0), 1);
  EXPECT_EQ(plan_.mxm_position(1), 0);
  EXPECT_EQ(plan_.mxm_position(2), 93);
  EXPECT_EQ(plan_.mxm_position(3), 94);
  EXPECT_EQ(plan_.mxm_hemisphere(1), Hemisphere::West);
  EXPECT_EQ(plan_.mxm_hemisphere(2), Hemisphere::East);

  EXPECT_THROW(plan_.mem_position(88), Error);
  EXPECT_THROW(plan_.mem_position(-1), Error);
  EXPECT_THROW(plan_.mxm_position(4), Error);
}

TEST_F(FloorplanTest, EveryPositionHoldsOneSlice) {
  std::set<int> used;
  for (int s = 0; s < plan_.mem_slices(); ++s)
    EXPECT_TRUE(used.insert(plan_.mem_position(s)).second);
  for (Hemisphere h : {Hemisphere::West, Hemisphere::East})
    EXPECT_TRUE(used.insert(plan_.sxm_position(h)).second);
  for (int p = 0; p < plan_.mxm_planes(); ++p)
    EXPECT_TRUE(used.insert(plan_.mxm_position(p)).second);
  EXPECT_TRUE(used.insert(plan_.vxm_position()).second);
  EXPECT_EQ(static_cast<int>(used.size()), plan_.positions());
  EXPECT_EQ(*used.begin(), 0);
  EXPECT_EQ(*used.rbegin(), plan_.positions() - 1);
}

TEST_F(FloorplanTest, Queues) {
  // 88 MEM + 28 SXM + 12 MXM + 16 VXM = FACTS.md's 144, + 2 x 16 C2C
  EXPECT_EQ(plan_.queue_count(), 176);
  const auto& q = plan_.queues();
  EXPECT_EQ(q[plan_.mem_queue(12)].name, "mem.w12");
  EXPECT_EQ(q[plan_.mem_queue(44 + 5)].name, "mem.e5");
  EXPECT_EQ(q[plan_.sxm_queue(Hemisphere::West)].name, "sxm.w");
  EXPECT_EQ(q[plan_.sxm_queue(Hemisphere::East)].name, "sxm.e");
  ASSERT_EQ(plan_.sxm_queues(Hemisphere::West).size(), 14u);
  EXPECT_EQ(plan_.sxm_queues(Hemisphere::West).front(), plan_.sxm_queue(Hemisphere::West));
  EXPECT_EQ(q[plan_.sxm_queues(Hemisphere::East)[13]].name, "sxm.e13");
  EXPECT_EQ(q[plan_.sxm_queues(Hemisphere::East)[13]].position, plan_.sxm_position(Hemisphere::East));
  EXPECT_EQ(q[plan_.mxm_queue(3, Unit::MxmLoad)].name, "mxm.e1.lw");
  EXPECT_EQ(q[plan_.mxm_queue(0, Unit::MxmCompute)].name, "mxm.w0.abc");
  EXPECT_EQ(q[plan_.mxm_queue(2, Unit::MxmEmit)].name, "mxm.e0.emit");
  EXPECT_EQ(q[plan_.vxm_queue(7)].name, "vxm.7");
  EXPECT_EQ(q[plan_.mxm_queue(3, Unit::MxmLoad)].position, 94);
  EXPECT_EQ(q[plan_.mem_queue(12)].position, plan_.mem_position(12));
  EXPECT_EQ(q[plan_.vxm_queue(15)].position, 47);
  EXPECT_THROW(plan_.mxm_queue(0, Unit::Mem), Error);
  EXPECT_THROW(plan_.vxm_queue(16), Error);
  EXPECT_EQ(q[plan_.c2c_queue(3, true)].name, "c2c.3.tx");
  EXPECT_EQ(q[plan_.c2c_queue(12, false)].name, "c2c.12.rx");
  EXPECT_EQ(q[plan_.c2c_queue(3, true)].position, plan_.sxm_position(Hemisphere::West));
  EXPECT_EQ(q[plan_.c2c_queue(12, false)].position, plan_.sxm_position(Hemisphere::East));
  EXPECT_TRUE(q[plan_.c2c_queue(3, true)].transmit);
  EXPECT_FALSE(q[plan_.c2c_queue(3, false)].transmit);
  EXPECT_THROW(plan_.c2c_queue(16, true), Error);

  int mem = 0, sxm = 0, mxm = 0, vxm = 0, c2c = 0;
  std::set<std::string> names;
  for (int id = 0; id < plan_.queue_count(); ++id) {
    const QueueInfo& info = q[id];
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_EQ(plan_.find_queue(info.name), id) << info.name;
    switch (info.unit) {
      case Unit::Mem:
        ++mem;
        break;
      case Unit::Sxm:
        ++sxm;
        break;
      case Unit::Vxm:
        ++vxm;
        break;
      case Unit::C2c:
        ++c2c;
        break;
      default:
        ++mxm;
        break;
    }
  }
  EXPECT_EQ(mem, 88);
  EXPECT_EQ(sxm, 28);
  EXPECT_EQ(mxm, 12);
  EXPECT_EQ(vxm, 16);
  EXPECT_EQ(c2c, 2 * kC2cChannels);
  EXPECT_EQ(plan_.find_queue("mem.w44"), -1);
  EXPECT_EQ(plan_.find_queue(""), -1);
}

TEST_F(FloorplanTest, Directions) {
  EXPECT_EQ(direction_towards(46, 0), Direction::West);
  EXPECT_EQ(direction_towards(46, 94), Direction::East);
  EXPECT_EQ(hop_distance(plan_.mem_position(0), plan_.mxm_position(3)), 48);
  EXPECT_EQ(hop_distance(94, 0), 94);
}

TEST(FloorplanLpuV2Test, FitsOneByteOfReach) {
  const Floorplan plan(load_system("lpu-v2").chip);
  const ChipConfig c = load_system("lpu-v2").chip;
  EXPECT_EQ(plan.positions(),
            2 * (c.mxm_planes_per_hemisphere + 1 + c.mem_slices_per_hemisphere) + 1);
  EXPECT_LE(plan.positions(), 255);
  EXPECT_EQ(plan.queue_count(), plan.mem_slices() + 2 * c.sxm_queues_per_hemisphere + 3 * plan.mxm_planes() +
                                    c.vxm_alus + 2 * kC2cChannels);
}

}  // namespace
}  // namespace lockstep::lpu
