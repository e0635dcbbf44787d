#include "lpu/program/program_builder.h"

#include <string>

#include "core/error.h"

namespace lockstep::lpu {
namespace {

Instruction timed(Opcode opcode, std::uint64_t cycle, std::uint32_t repeat) {
  Instruction in;
  in.opcode = opcode;
  in.cycle = cycle;
  in.repeat = repeat;
  return in;
}

}  // namespace

ProgramBuilder::ProgramBuilder(const Floorplan& floorplan) : floorplan_(floorplan) {
  program_.queues.resize(floorplan.queue_count());
}

Instruction& ProgramBuilder::add(std::string_view queue, const Instruction& instruction) {
  const int id = floorplan_.find_queue(std::string(queue));
  if (id < 0) fail("the floorplan has no queue named '{}'", queue);
  return add(id, instruction);
}

Instruction& ProgramBuilder::add(int queue, const Instruction& instruction) {
  auto& list = program_.queues.at(queue);
  list.push_back(instruction);
  return list.back();
}

Instruction mem_read(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t addr,
                     std::uint8_t out, int reach, int width, std::int32_t addr_step) {
  Instruction in = timed(Opcode::Read, cycle, repeat);
  in.addr = addr;
  in.addr_step = addr_step;
  in.out = out;
  in.reach = static_cast<std::uint8_t>(reach);
  in.width = static_cast<std::uint8_t>(width);
  return in;
}

Instruction mem_write(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t addr,
                      std::uint8_t in_stream, int width, std::int32_t addr_step) {
  Instruction in = timed(Opcode::Write, cycle, repeat);
  in.addr = addr;
  in.addr_step = addr_step;
  in.in[0] = in_stream;
  in.width = static_cast<std::uint8_t>(width);
  return in;
}

Instruction mem_gather(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t addr,
                       std::uint8_t index_in, std::uint8_t out, int reach, int first_row, int rows,
                       int row_stride, std::int32_t addr_step) {
  Instruction in = timed(Opcode::Gather, cycle, repeat);
  in.addr = addr;
  in.addr_step = addr_step;
  in.in[0] = index_in;
  in.out = out;
  in.reach = static_cast<std::uint8_t>(reach);
  in.imm = row_stride;
  in.imm2 = first_row;
  in.imm3 = rows;
  return in;
}

Instruction mem_scatter(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t addr,
                        std::uint8_t index_in, std::uint8_t data_in, int first_row, int rows,
                        int row_stride, std::int32_t addr_step) {
  Instruction in = timed(Opcode::Scatter, cycle, repeat);
  in.addr = addr;
  in.addr_step = addr_step;
  in.in[0] = index_in;
  in.in[1] = data_in;
  in.imm = row_stride;
  in.imm2 = first_row;
  in.imm3 = rows;
  return in;
}

Instruction vector_op(Opcode opcode, std::uint64_t cycle, std::uint32_t repeat,
                      std::initializer_list<std::uint8_t> inputs, std::uint8_t out, int reach,
                      std::int32_t imm, float fimm) {
  Instruction in = timed(opcode, cycle, repeat);
  int k = 0;
  for (std::uint8_t s : inputs) {
    if (k == 4) fail("an instruction has at most 4 input streams");
    in.in[k++] = s;
  }
  in.out = out;
  in.reach = static_cast<std::uint8_t>(reach);
  in.imm = imm;
  in.fimm = fimm;
  return in;
}

Instruction c2c_send(std::uint64_t cycle, std::uint32_t repeat, std::uint8_t in,
                     std::uint16_t stride) {
  Instruction i = timed(Opcode::Send, cycle, repeat);
  i.in[0] = in;
  i.stride = stride;
  return i;
}

Instruction c2c_receive(std::uint64_t cycle, std::uint32_t repeat, std::uint8_t out, int reach,
                        std::uint16_t stride) {
  Instruction i = timed(Opcode::Receive, cycle, repeat);
  i.out = out;
  i.reach = static_cast<std::uint8_t>(reach);
  i.stride = stride;
  return i;
}

Instruction load_weights(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t first_row,
                         std::uint8_t in_stream, int width) {
  Instruction in = timed(Opcode::LoadWeights, cycle, repeat);
  in.addr = first_row;
  in.in[0] = in_stream;
  in.width = static_cast<std::uint8_t>(width);
  return in;
}

Instruction install_weights(std::uint64_t cycle, std::uint32_t rows, ElementType type) {
  Instruction in = timed(Opcode::InstallWeights, cycle, 1);
  in.addr = rows;
  in.imm = static_cast<std::int32_t>(type);
  return in;
}

Instruction mxm_compute(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t row,
                        std::uint8_t in_stream, bool accumulate, std::int32_t row_step) {
  Instruction in = timed(Opcode::Compute, cycle, repeat);
  in.addr = row;
  in.addr_step = row_step;
  in.in[0] = in_stream;
  in.imm = accumulate ? 1 : 0;
  return in;
}

Instruction mxm_emit(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t row, std::uint8_t out,
                     int reach, std::int32_t row_step) {
  Instruction in = timed(Opcode::Emit, cycle, repeat);
  in.addr = row;
  in.addr_step = row_step;
  in.out = out;
  in.reach = static_cast<std::uint8_t>(reach);
  return in;
}

}  // namespace lockstep::lpu
