// The thread team: every member runs the task, barriers separate phases (no member sees a
// phase's writes before all members have finished the previous phase), and teams larger than
// the machine still finish (waiting members yield).
#include "cpu/thread_team.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace lockstep::cpu {
namespace {

struct PhaseCheck {
  ThreadTeam* team;
  std::vector<int> slots;           // [members] each member's phase counter
  std::atomic<int> violations{0};
};

constexpr int kPhases = 200;

void run_phases(void* context, int member) {
  auto& c = *static_cast<PhaseCheck*>(context);
  const int members = c.team->size();
  for (int phase = 1; phase <= kPhases; ++phase) {
    c.slots[static_cast<std::size_t>(member)] = phase;
    c.team->barrier();
    // After the barrier every member has written this phase, and none the next one yet.
    for (int m = 0; m < members; ++m)
      if (c.slots[static_cast<std::size_t>(m)] != phase) c.violations.fetch_add(1);
    c.team->barrier();
  }
}

TEST(ThreadTeamTest, BarriersSeparatePhasesAtEverySize) {
  for (int members : {1, 2, 3, 5}) {
    ThreadTeam team(members);
    ASSERT_EQ(team.size(), members);
    PhaseCheck check{&team, std::vector<int>(static_cast<std::size_t>(members), 0)};
    for (int run = 0; run < 3; ++run) team.run(run_phases, &check);
    EXPECT_EQ(check.violations.load(), 0) << members << " members";
  }
}

TEST(ThreadTeamTest, EveryMemberRunsEachTaskOnce) {
  ThreadTeam team(3);
  std::vector<std::atomic<int>> calls(3);
  for (int run = 0; run < 50; ++run)
    team.run([](void* context, int member) {
      (*static_cast<std::vector<std::atomic<int>>*>(context))[static_cast<std::size_t>(member)]++;
    }, &calls);
  for (auto& c : calls) EXPECT_EQ(c.load(), 50);
}

TEST(ThreadTeamTest, AvailableCoresAreListed) { EXPECT_FALSE(available_cores().empty()); }

}  // namespace
}  // namespace lockstep::cpu
