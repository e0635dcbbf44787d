#include "runtime/stop_strings.h"

#include <gtest/gtest.h>

namespace lockstep::runtime {
namespace {

TEST(StopStrings, ReleasesTextThatCannotStartAStopString) {
  StopStrings s({"\n\n", "END"});
  EXPECT_EQ(s.push("hello"), "hello");
  EXPECT_EQ(s.push(" wor"), " wor");
  EXPECT_EQ(s.push("ld E"), "ld ");  // "E" may start "END"
  EXPECT_EQ(s.push("Nx"), "ENx");    // it did not
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push("\n"), "");
  EXPECT_EQ(s.finish(), "\n");
}

TEST(StopStrings, CutsAtTheFirstStopStringAcrossPieces) {
  StopStrings s({"END", "STOP"});
  EXPECT_EQ(s.push("abc ST"), "abc ");
  EXPECT_EQ(s.push("O"), "");
  EXPECT_EQ(s.push("P and END"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.push("more"), "");
  EXPECT_EQ(s.finish(), "");
}

TEST(StopStrings, EarliestOfSeveralWins) {
  StopStrings s({"c", "abc"});
  EXPECT_EQ(s.push("xxabc"), "xx");  // "abc" starts before "c"
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, NoStopStringsPassEverything) {
  StopStrings s({});
  EXPECT_EQ(s.push("a\n\nb"), "a\n\nb");
  EXPECT_EQ(s.finish(), "");
}

}  // namespace
}  // namespace lockstep::runtime
