// Writing programs by hand (tests, benchmarks, examples): instructions appended to queues named
// as the floorplan names them ("mem.w3", "vxm.0", "mxm.e1.lw"), built by one function per
// instruction shape so each field is named at the call. Cycles are @ core clock; addresses are
// vector indices in a MEM slice; rows are MXM buffer or accumulator rows. Nothing is checked
// here: the simulator checks the program when it runs it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program.h"

namespace lockstep::lpu {

inline std::uint8_t east(int index) {
  return encode_stream({Direction::East, static_cast<std::uint8_t>(index)});
}
inline std::uint8_t west(int index) {
  return encode_stream({Direction::West, static_cast<std::uint8_t>(index)});
}

class ProgramBuilder {
 public:
  explicit ProgramBuilder(const Floorplan& floorplan);

  // Appends to a queue (by name: lockstep::Error if the floorplan has none such) and returns
  // the stored instruction, valid until the next add.
  Instruction& add(std::string_view queue, const Instruction& instruction);
  Instruction& add(int queue, const Instruction& instruction);

  Program& program() { return program_; }
  const Program& program() const { return program_; }

 private:
  const Floorplan& floorplan_;
  Program program_;
};

// MEM. width 2 reads/writes bank 0 at addr and bank 1 at addr + vectors_per_bank.
Instruction mem_read(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t addr,
                     std::uint8_t out, int reach, int width = 1, std::int32_t addr_step = 1);
Instruction mem_write(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t addr,
                      std::uint8_t in, int width = 1, std::int32_t addr_step = 1);
// Rows [first_row, first_row + rows) live at addr + (row - first_row) * row_stride.
Instruction mem_gather(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t addr,
                       std::uint8_t index_in, std::uint8_t out, int reach, int first_row, int rows,
                       int row_stride, std::int32_t addr_step = 0);
Instruction mem_scatter(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t addr,
                        std::uint8_t index_in, std::uint8_t data_in, int first_row, int rows,
                        int row_stride, std::int32_t addr_step = 0);

// VXM / SXM: inputs in operand order.
Instruction vector_op(Opcode opcode, std::uint64_t cycle, std::uint32_t repeat,
                      std::initializer_list<std::uint8_t> in, std::uint8_t out, int reach,
                      std::int32_t imm = 0, float fimm = 0.0f);

// MXM.
Instruction load_weights(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t first_row,
                         std::uint8_t in, int width);
Instruction install_weights(std::uint64_t cycle, std::uint32_t rows, ElementType type);
Instruction mxm_compute(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t row,
                        std::uint8_t in, bool accumulate, std::int32_t row_step = 1);
Instruction mxm_emit(std::uint64_t cycle, std::uint32_t repeat, std::uint32_t row, std::uint8_t out,
                     int reach, std::int32_t row_step = 1);

// C2C, on queue "c2c.N.tx" (send) or "c2c.N.rx" (receive): iteration i at cycle + i * stride.
Instruction c2c_send(std::uint64_t cycle, std::uint32_t repeat, std::uint8_t in,
                     std::uint16_t stride = 1);
Instruction c2c_receive(std::uint64_t cycle, std::uint32_t repeat, std::uint8_t out, int reach,
                        std::uint16_t stride = 1);

}  // namespace lockstep::lpu
