// Random LPU programs for round-trip tests and fuzz seeds, the same for a seed on every machine
// (lockstep::Rng). Built by the project's own code, so no program file is checked in.
#pragma once

#include <cstdint>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program.h"
#include "lpu/arch/system_config.h"

namespace lockstep::testing {

// A program that lpu::check_program accepts for `chip`: random instructions of the right unit
// in random queues, in issue order, with every operand in range; a few memory segments and host
// buffers. Small (tens of instructions, a few vectors of memory).
lpu::Program random_valid_program(std::uint64_t seed, const lpu::ChipConfig& chip,
                                  const lpu::Floorplan& floorplan);

// A program whose every field is random within what the binary and assembly readers accept
// (any opcode in any queue, operands the opcode does not use, extreme numbers, strings with
// quotes, control bytes and UTF-8; floats of every class but NaN, which == cannot compare).
// floorplan.queue_count() queues. For round trips, not for check_program.
lpu::Program random_encodable_program(std::uint64_t seed, const lpu::Floorplan& floorplan);

}  // namespace lockstep::testing
