// Counts heap allocations made by any thread of the test process (the test binary replaces the
// global operator new), so a test can assert that a code path allocates nothing.
#pragma once

#include <cstdint>

namespace lockstep::testing {

// Allocations (every operator new call, any thread) since the process started.
std::uint64_t allocations_so_far();

}  // namespace lockstep::testing
