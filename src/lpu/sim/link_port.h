// A chip's C2C channels as the system wires them: the chip simulator (simulator.h) calls a
// LinkPort for every Send and Receive iteration, and the system simulator
// (system_simulator.h) implements it, mapping channels onto links and checking the link rules.
// Cycles here are the chip's program cycles (a system adds the chip's start_cycle).
#pragma once

#include <cstdint>

namespace lockstep::lpu {

class LinkPort {  // a chip's C2C channels, as the system wires them
 public:
  virtual ~LinkPort() = default;
  // A Send iteration on `channel` at `cycle` (program cycles of this chip); vector:
  // [vector_bytes] bytes, nullptr in timing mode. The port copies what it keeps.
  virtual void send(int channel, std::int64_t cycle, const std::uint8_t* vector) = 0;
  // A Receive iteration: the next vector that arrived on the channel ([vector_bytes] bytes,
  // valid until the next call; nullptr allowed in timing mode). Throws MachineRuleViolation
  // when none has arrived by `cycle`.
  virtual const std::uint8_t* receive(int channel, std::int64_t cycle) = 0;
};

}  // namespace lockstep::lpu
