// Bank ports on their own: one booking per bank and cycle, stale slots.
#include "lpu/sim/bank_ports.h"

#include <gtest/gtest.h>

namespace lockstep::lpu {
namespace {

TEST(BankPortsTest, OneBookingPerBankAndCycle) {
  BankPorts banks(4, 8);
  EXPECT_TRUE(banks.book(2, 100));
  EXPECT_FALSE(banks.book(2, 100));
  EXPECT_TRUE(banks.booked(2, 100));
  EXPECT_FALSE(banks.booked(3, 100));
  EXPECT_FALSE(banks.booked(2, 101));
  EXPECT_TRUE(banks.book(2, 108));  // same slot, a later cycle: the old booking is stale
  EXPECT_FALSE(banks.booked(2, 100));
}

}  // namespace
}  // namespace lockstep::lpu
