// The issue calendar's order: cycle, then rank; far issues; ranks held every cycle.
#include "lpu/sim/issue_calendar.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace lockstep::lpu {
namespace {

TEST(IssueCalendarTest, IssuesInCycleThenRankOrder) {
  IssueCalendar calendar(130);
  calendar.start(10);
  calendar.schedule(129, 10);
  calendar.schedule(3, 10);
  calendar.schedule(64, 12);
  calendar.schedule(5, 500);  // far: waits in the heap
  calendar.schedule(7, 73);   // exactly 63 ahead
  calendar.schedule(8, 74);   // exactly 64 ahead: far
  std::vector<std::pair<std::int64_t, int>> order;
  do {
    calendar.drain([&](int rank) {
      order.emplace_back(calendar.now(), rank);
      if (rank == 64 && calendar.now() < 14) calendar.schedule(64, calendar.now() + 1);
    });
  } while (calendar.advance());
  const std::vector<std::pair<std::int64_t, int>> expected = {
      {10, 3}, {10, 129}, {12, 64}, {13, 64}, {14, 64}, {73, 7}, {74, 8}, {500, 5}};
  EXPECT_EQ(order, expected);
}

TEST(IssueCalendarTest, HeldRanksIssueEveryCycleUntilReleased) {
  IssueCalendar calendar(10);
  calendar.start(0);
  calendar.schedule(4, 0);
  calendar.schedule(2, 3);
  std::vector<std::pair<std::int64_t, int>> order;
  do {
    calendar.drain([&](int rank) {
      order.emplace_back(calendar.now(), rank);
      if (rank == 4 && calendar.now() == 0) calendar.hold(4);
      if (rank == 4 && calendar.now() == 4) calendar.release(4);
    });
  } while (calendar.advance());
  const std::vector<std::pair<std::int64_t, int>> expected = {
      {0, 4}, {1, 4}, {2, 4}, {3, 2}, {3, 4}, {4, 4}};
  EXPECT_EQ(order, expected);
}

}  // namespace
}  // namespace lockstep::lpu
