#include "lpu/arch/isa.h"

#include <array>

namespace lockstep::lpu {
namespace {

using enum Opcode;
using U = Unit;
using D = DelayClass;

// opcode, mnemonic, unit, delay, inputs, outputs, width scales inputs / outputs, memory r / w
constexpr std::array<OpcodeInfo, kOpcodeCount> kTable = {{
    {Read, "read", U::Mem, D::MemRead, 0, 1, false, true, true, false},
    {Write, "write", U::Mem, D::MemWrite, 1, 0, true, false, false, true},
    {Gather, "gather", U::Mem, D::MemGather, 1, 1, false, false, true, false},
    {Scatter, "scatter", U::Mem, D::MemScatter, 2, 0, false, false, false, true},
    {Add, "add", U::Vxm, D::VxmAlu, 2, 1, false, false, false, false},
    {Sub, "sub", U::Vxm, D::VxmAlu, 2, 1, false, false, false, false},
    {Mul, "mul", U::Vxm, D::VxmAlu, 2, 1, false, false, false, false},
    {Div, "div", U::Vxm, D::VxmTranscendental, 2, 1, false, false, false, false},
    {Max, "max", U::Vxm, D::VxmAlu, 2, 1, false, false, false, false},
    {Min, "min", U::Vxm, D::VxmAlu, 2, 1, false, false, false, false},
    {MulAdd, "muladd", U::Vxm, D::VxmAlu, 3, 1, false, false, false, false},
    {Select, "select", U::Vxm, D::VxmAlu, 3, 1, false, false, false, false},
    {Equal, "equal", U::Vxm, D::VxmAlu, 2, 1, false, false, false, false},
    {AddImm, "addi", U::Vxm, D::VxmAlu, 1, 1, false, false, false, false},
    {MulImm, "muli", U::Vxm, D::VxmAlu, 1, 1, false, false, false, false},
    {Abs, "abs", U::Vxm, D::VxmAlu, 1, 1, false, false, false, false},
    {Exp, "exp", U::Vxm, D::VxmTranscendental, 1, 1, false, false, false, false},
    {Rsqrt, "rsqrt", U::Vxm, D::VxmTranscendental, 1, 1, false, false, false, false},
    {Move, "mov", U::Vxm, D::VxmAlu, 1, 1, false, false, false, false},
    {ConvertF32ToF16, "cvt.f32.f16", U::Vxm, D::VxmConvert, 2, 1, false, false, false, false},
    {ConvertF16ToF32, "cvt.f16.f32", U::Vxm, D::VxmConvert, 1, 1, false, false, false, false},
    {ConvertF32ToI8, "cvt.f32.i8", U::Vxm, D::VxmConvert, 4, 1, false, false, false, false},
    {ConvertI32ToF32, "cvt.i32.f32", U::Vxm, D::VxmConvert, 1, 1, false, false, false, false},
    {Rotate, "rotate", U::Sxm, D::Sxm, 1, 1, false, false, false, false},
    {Distribute, "distribute", U::Sxm, D::Sxm, 1, 1, false, false, false, false},
    {LoadWeights, "lw", U::MxmLoad, D::MxmLoadWeights, 1, 0, true, false, false, false},
    {InstallWeights, "iw", U::MxmCompute, D::MxmInstallWeights, 0, 0, false, false, false, false},
    {Compute, "abc", U::MxmCompute, D::MxmCompute, 1, 0, false, false, false, false},
    {Emit, "emit", U::MxmEmit, D::MxmEmit, 0, 4, false, false, false, false},
    {Send, "send", U::C2c, D::C2cSend, 1, 0, false, false, false, false},
    {Receive, "recv", U::C2c, D::C2cReceive, 0, 1, false, false, false, false},
}};

constexpr bool table_is_in_opcode_order() {
  for (int i = 0; i < kOpcodeCount; ++i)
    if (static_cast<int>(kTable[i].opcode) != i) return false;
  return true;
}
static_assert(table_is_in_opcode_order(), "kTable rows must follow the Opcode enum");

}  // namespace

std::string_view unit_name(Unit unit) {
  switch (unit) {
    case Unit::Mem: return "mem";
    case Unit::Vxm: return "vxm";
    case Unit::Sxm: return "sxm";
    case Unit::MxmLoad: return "mxm.lw";
    case Unit::MxmCompute: return "mxm.abc";
    case Unit::MxmEmit: return "mxm.emit";
    case Unit::C2c: return "c2c";
  }
  return "?";
}

std::string_view delay_class_name(DelayClass delay_class) {
  static constexpr std::array<std::string_view, kDelayClassCount> kNames = {
      "mem_read", "mem_write", "mem_gather", "mem_scatter", "vxm_alu", "vxm_transcendental",
      "vxm_convert", "sxm", "mxm_load_weights", "mxm_install_weights", "mxm_compute", "mxm_emit",
      "c2c_send", "c2c_receive"};
  return kNames[static_cast<int>(delay_class)];
}

const OpcodeInfo& opcode_info(Opcode opcode) { return kTable[static_cast<int>(opcode)]; }

std::optional<Opcode> opcode_from_mnemonic(std::string_view mnemonic) {
  for (const auto& row : kTable)
    if (row.mnemonic == mnemonic) return row.opcode;
  return std::nullopt;
}

}  // namespace lockstep::lpu
