// The plan's arena: aligned placement, zero-filled 2 MiB-aligned memory, and one clear error
// (not the OOM killer) for a block larger than the machine's free memory.
#include "cpu/arena.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "core/error.h"

namespace lockstep::cpu {
namespace {

TEST(ArenaTest, LayoutAlignsEveryPlacement) {
  ArenaLayout layout;
  EXPECT_EQ(layout.place(10), 0u);
  EXPECT_EQ(layout.place(1), 64u);
  EXPECT_EQ(layout.place(100, 4096), 4096u);
  EXPECT_EQ(layout.size(), 4196u);
}

TEST(ArenaTest, MemoryIsAlignedAndZero) {
  Arena arena(5 << 20);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(arena.at(0)) % (2 << 20), 0u);
  EXPECT_GE(arena.size(), std::size_t{5} << 20);
  for (std::size_t i = 0; i < arena.size(); i += 4093) EXPECT_EQ(arena.at(i)[0], 0);
}

TEST(ArenaTest, MoreThanTheFreeMemoryIsOneSentence) {
  try {
    Arena arena(std::size_t{1} << 50);  // 1 PiB
    FAIL() << "a 1 PiB arena was granted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("GiB of memory is available"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lockstep::cpu
