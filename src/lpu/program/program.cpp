#include "lpu/program/program.h"

namespace lockstep::lpu {

std::uint64_t Program::instruction_count() const {
  std::uint64_t n = 0;
  for (const auto& queue : queues) n += queue.size();
  return n;
}

std::uint64_t Program::iteration_count() const {
  std::uint64_t n = 0;
  for (const auto& queue : queues)
    for (const auto& instruction : queue) n += instruction.repeat;
  return n;
}

}  // namespace lockstep::lpu
