// Stream diagonals on their own: disjoint segments on one key (inline and spilled), overlaps,
// stale keys, negative keys and payloads.
#include "lpu/sim/stream_diagonals.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace lockstep::lpu {
namespace {

TEST(StreamDiagonalsTest, DisjointSegmentsShareAKeyAndOverlapsAreRefused) {
  StreamDiagonals streams(64, 128, 0);
  // Six one-position segments on key 5 of stream 3: three inline, three spilled.
  for (int p = 10; p < 16; ++p)
    EXPECT_TRUE(streams.write<false>(3, 5, static_cast<std::uint8_t>(p),
                                     static_cast<std::uint8_t>(p), nullptr));
  for (int p = 10; p < 16; ++p) EXPECT_TRUE(streams.find<false>(3, 5, p)) << p;
  EXPECT_FALSE(streams.find<false>(3, 5, 16));
  EXPECT_FALSE(streams.find<false>(3, 6, 10));  // another key
  EXPECT_FALSE(streams.find<false>(4, 5, 10));  // another stream
  EXPECT_FALSE(streams.write<false>(3, 5, 15, 20, nullptr));  // meets the sixth (spilled)
  EXPECT_FALSE(streams.write<false>(3, 5, 0, 10, nullptr));   // meets the first (inline)
  EXPECT_TRUE(streams.write<false>(3, 5, 16, 20, nullptr));
  // Key 5 + 128 takes the same slot: the old key's segments are gone.
  EXPECT_TRUE(streams.write<false>(3, 5 + 128, 12, 12, nullptr));
  EXPECT_FALSE(streams.find<false>(3, 5, 12));
  EXPECT_FALSE(streams.find<false>(3, 5 + 128, 11));
  EXPECT_TRUE(streams.find<false>(3, 5 + 128, 12));
}

TEST(StreamDiagonalsTest, NegativeKeysAndPayloads) {
  StreamDiagonals streams(64, 128, 4);
  const std::uint8_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
  ASSERT_TRUE(streams.write<true>(0, -40, 0, 3, a));
  ASSERT_TRUE(streams.write<true>(0, -40, 4, 9, b));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(streams.write<true>(0, -40, 20 + i, 20 + i, b));
  const auto first = streams.find<true>(0, -40, 2);
  const auto second = streams.find<true>(0, -40, 9);
  const auto spilled = streams.find<true>(0, -40, 23);
  ASSERT_TRUE(first && second && spilled);
  EXPECT_EQ(std::vector<std::uint8_t>(streams.payload(first), streams.payload(first) + 4),
            std::vector<std::uint8_t>(a, a + 4));
  EXPECT_EQ(std::vector<std::uint8_t>(streams.payload(second), streams.payload(second) + 4),
            std::vector<std::uint8_t>(b, b + 4));
  EXPECT_EQ(streams.payload(spilled)[3], 8);
  // Reusing the slot returns the payloads to the pool and keeps the new one intact.
  ASSERT_TRUE(streams.write<true>(0, -40 + 128, 0, 0, a));
  EXPECT_EQ(streams.payload(streams.find<true>(0, -40 + 128, 0))[0], 1);
}

}  // namespace
}  // namespace lockstep::lpu
