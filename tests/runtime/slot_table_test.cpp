#include "runtime/slot_table.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace lockstep::runtime {
namespace {

using Tokens = std::vector<std::int32_t>;

TEST(SlotTable, ReusesTheLongestCachedPrefixButAlwaysRunsTheLastToken) {
  SlotTable table(2);
  const Tokens system = {1, 2, 3, 4, 5};
  SlotGrant g = table.acquire(system);
  EXPECT_EQ(g.reused, 0);
  table.write(g.slot, 0, system);
  table.release(g.slot);

  // Same prompt again: all but its last token come from the cache.
  SlotGrant again = table.acquire(system);
  EXPECT_EQ(again.slot, g.slot);
  EXPECT_EQ(again.reused, 4);
  EXPECT_EQ(again.copy_from, -1);
  table.write(again.slot, again.reused, std::span(system).subspan(4));  // as the engine does
  table.release(again.slot);

  // A longer prompt with the same start reuses the whole shared part.
  const Tokens longer = {1, 2, 3, 4, 5, 9, 9};
  SlotGrant grown = table.acquire(longer);
  EXPECT_EQ(grown.slot, g.slot);
  EXPECT_EQ(grown.reused, 5);
  EXPECT_EQ(table.tokens(grown.slot).size(), 5u);  // what it holds is trimmed to the match
}

TEST(SlotTable, EvictsTheLeastRecentlyUsedIdleSlot) {
  SlotTable table(2);
  const Tokens a = {1, 10, 11}, b = {1, 20, 21}, c = {7, 30};
  SlotGrant ga = table.acquire(a);
  table.write(ga.slot, 0, a);
  table.release(ga.slot);
  SlotGrant gb = table.acquire(b);
  EXPECT_NE(gb.slot, ga.slot);
  table.write(gb.slot, 0, b);
  table.release(gb.slot);
  // b shares only BOS with a: it took the empty slot rather than overwrite a.
  // c matches neither: it takes a's slot, used longest ago.
  SlotGrant gc = table.acquire(c);
  EXPECT_EQ(gc.slot, ga.slot);
  EXPECT_EQ(gc.reused, 0);
  EXPECT_TRUE(table.tokens(gc.slot).empty());
  // b is still cached.
  table.release(gc.slot);
  EXPECT_EQ(table.acquire(b).reused, 2);
}

TEST(SlotTable, CopiesFromABusySlotThatSharesMore) {
  SlotTable table(3);
  const Tokens shared = {1, 2, 3, 4, 5, 6};
  SlotGrant first = table.acquire(shared);
  table.write(first.slot, 0, shared);  // still running
  SlotGrant second = table.acquire(Tokens{1, 2, 3, 4, 8});
  EXPECT_NE(second.slot, first.slot);
  EXPECT_EQ(second.copy_from, first.slot);
  EXPECT_EQ(second.reused, 4);
  EXPECT_EQ(table.tokens(second.slot).size(), 4u);
  EXPECT_EQ(table.idle(), 1);
}

TEST(SlotTable, NoIdleSlotGivesNoGrant) {
  SlotTable table(1);
  EXPECT_GE(table.acquire(Tokens{1}).slot, 0);
  EXPECT_EQ(table.acquire(Tokens{1}).slot, -1);
  EXPECT_THROW(table.acquire(Tokens{}), Error);
}

TEST(SlotTable, WritesReplaceWhatFollows) {
  SlotTable table(1);
  SlotGrant g = table.acquire(Tokens{1, 2, 3});
  table.write(g.slot, 0, Tokens{1, 2, 3});
  table.write(g.slot, 1, Tokens{9});
  EXPECT_EQ(Tokens(table.tokens(g.slot).begin(), table.tokens(g.slot).end()), (Tokens{1, 9}));
  EXPECT_THROW(table.write(g.slot, 5, Tokens{1}), Error);
}

}  // namespace
}  // namespace lockstep::runtime
