// MemAllocator's pools: where temporaries land (compiler/mem_allocator.h).
#include "compiler/mem_allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "support/lpu_chip.h"

namespace lockstep::compiler {
namespace {

using lockstep::testing::test_chip;
using lockstep::testing::test_floorplan;

TEST(MemAllocatorTest, ActivationTemporariesStayOnTheNearSlices) {
  MemAllocator a(test_chip(), test_floorplan());
  const std::vector<int>& near = a.pool_slices(Pool::Activations);
  std::set<int> used;
  for (int i = 0; i < 200; ++i) used.insert(a.allocate("t", 4, 1, Pool::Activations).slices[0]);
  EXPECT_EQ(used.size(), near.size());
  for (int s : used) EXPECT_NE(std::find(near.begin(), near.end(), s), near.end()) << s;
}

TEST(MemAllocatorTest, AnywhereSpreadsOverEverySliceNearOnesFirst) {
  MemAllocator a(test_chip(), test_floorplan());
  const std::vector<int>& every = a.pool_slices(Pool::Anywhere);
  ASSERT_EQ(static_cast<int>(every.size()), test_floorplan().mem_slices());
  // The near slices come first, in the activation pool's order.
  const std::vector<int>& near = a.pool_slices(Pool::Activations);
  EXPECT_TRUE(std::equal(near.begin(), near.end(), every.begin()));
  std::vector<int> order;
  for (std::size_t i = 0; i < every.size(); ++i) order.push_back(a.allocate("t", 4, 1, Pool::Anywhere).slices[0]);
  EXPECT_EQ(order, every);
}

TEST(MemAllocatorTest, AnywhereSkipsASliceWithoutRoomAndOneToAvoid) {
  MemAllocator a(test_chip(), test_floorplan());
  const std::vector<int>& every = a.pool_slices(Pool::Anywhere);
  const std::uint32_t slice_vectors =
      static_cast<std::uint32_t>(test_chip().banks_per_slice * test_chip().vectors_per_bank);
  // Fill the first slice (as weights fill theirs), then ask for room there and on the second.
  a.allocate_on("full", slice_vectors - 2, {every[0]});
  const Placed p = a.allocate("t", 4, 1, Pool::Anywhere, {every[1]});
  EXPECT_EQ(p.slices[0], every[2]);
  EXPECT_FALSE(a.overflowed());
}

}  // namespace
}  // namespace lockstep::compiler
