#include "lpu/sim/vector_alu.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "numerics/half.h"

namespace lockstep::lpu {
namespace {

float load_f32(const std::uint8_t* v, int lane) {
  float x;
  std::memcpy(&x, v + 4 * lane, 4);
  return x;
}
void store_f32(std::uint8_t* v, int lane, float x) { std::memcpy(v + 4 * lane, &x, 4); }
std::int32_t load_i32(const std::uint8_t* v, int lane) {
  std::int32_t x;
  std::memcpy(&x, v + 4 * lane, 4);
  return x;
}
std::uint16_t load_u16(const std::uint8_t* v, int lane) {
  std::uint16_t x;
  std::memcpy(&x, v + 2 * lane, 2);
  return x;
}
void store_u16(std::uint8_t* v, int lane, std::uint16_t x) { std::memcpy(v + 2 * lane, &x, 2); }

// out.f32[l] = f(in0.f32[l], ...) for every lane.
template <typename F>
void map1(const std::uint8_t* a, std::uint8_t* out, int lanes, F f) {
  for (int l = 0; l < lanes; ++l) store_f32(out, l, f(load_f32(a, l)));
}
template <typename F>
void map2(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, int lanes, F f) {
  for (int l = 0; l < lanes; ++l) store_f32(out, l, f(load_f32(a, l), load_f32(b, l)));
}
template <typename F>
void map3(const std::uint8_t* a, const std::uint8_t* b, const std::uint8_t* c, std::uint8_t* out,
          int lanes, F f) {
  for (int l = 0; l < lanes; ++l)
    store_f32(out, l, f(load_f32(a, l), load_f32(b, l), load_f32(c, l)));
}

}  // namespace

std::int8_t convert_f32_to_i8(float x) {
  if (std::isnan(x)) return 0;
  const float clamped = x < -127.0f ? -127.0f : (x > 127.0f ? 127.0f : x);
  // std::nearbyint rounds in the current mode, which the program never changes: nearest even.
  return static_cast<std::int8_t>(std::nearbyint(clamped));
}

bool vector_op_immediate_is_valid(Opcode opcode, std::int32_t imm, int vector_bytes) {
  switch (opcode) {
    case Opcode::ConvertF16ToF32: return imm == 0 || imm == 1;
    case Opcode::Distribute: return imm >= 0 && imm < vector_bytes / 4;
    default: return true;
  }
}

void execute_vector_op(Opcode opcode, std::span<const std::uint8_t* const> in, std::uint8_t* out,
                       int vector_bytes, std::int32_t imm, float fimm) {
  const OpcodeInfo& info = opcode_info(opcode);
  if (info.unit != Unit::Vxm && info.unit != Unit::Sxm)
    fail("'{}' is not a VXM or SXM opcode", info.mnemonic);
  if (in.size() < info.stream_inputs)
    fail("'{}' needs {} input vectors, got {}", info.mnemonic, info.stream_inputs, in.size());
  if (vector_bytes <= 0 || vector_bytes % 4 != 0)
    fail("vector size {} bytes is not a positive multiple of 4", vector_bytes);
  if (!vector_op_immediate_is_valid(opcode, imm, vector_bytes))
    fail("'{}' does not accept immediate {}", info.mnemonic, imm);
  const int lanes = vector_bytes / 4;  // f32 lanes

  switch (opcode) {
    case Opcode::Add: return map2(in[0], in[1], out, lanes, [](float a, float b) { return a + b; });
    case Opcode::Sub: return map2(in[0], in[1], out, lanes, [](float a, float b) { return a - b; });
    case Opcode::Mul: return map2(in[0], in[1], out, lanes, [](float a, float b) { return a * b; });
    case Opcode::Div: return map2(in[0], in[1], out, lanes, [](float a, float b) { return a / b; });
    case Opcode::Max:
      return map2(in[0], in[1], out, lanes, [](float a, float b) { return b > a ? b : a; });
    case Opcode::Min:
      return map2(in[0], in[1], out, lanes, [](float a, float b) { return b < a ? b : a; });
    case Opcode::MulAdd:
      return map3(in[0], in[1], in[2], out, lanes, [](float a, float b, float c) {
        const float product = a * b;  // rounded to f32 here: no contraction (-ffp-contract=off)
        return product + c;
      });
    case Opcode::Select:
      return map3(in[0], in[1], in[2], out, lanes,
                  [](float s, float a, float b) { return s != 0.0f ? a : b; });
    case Opcode::Equal:
      return map2(in[0], in[1], out, lanes, [](float a, float b) { return a == b ? 1.0f : 0.0f; });
    case Opcode::AddImm: return map1(in[0], out, lanes, [fimm](float a) { return a + fimm; });
    case Opcode::MulImm: return map1(in[0], out, lanes, [fimm](float a) { return a * fimm; });
    case Opcode::Abs:
      for (int l = 0; l < lanes; ++l) {
        const std::uint32_t bits = std::bit_cast<std::uint32_t>(load_f32(in[0], l)) & 0x7fffffffu;
        store_f32(out, l, std::bit_cast<float>(bits));
      }
      return;
    case Opcode::Exp: return map1(in[0], out, lanes, [](float a) { return std::exp(a); });
    case Opcode::Rsqrt: return map1(in[0], out, lanes, [](float a) { return 1.0f / std::sqrt(a); });
    case Opcode::Move: std::memcpy(out, in[0], vector_bytes); return;
    case Opcode::ConvertF32ToF16:
      for (int l = 0; l < lanes; ++l) {
        store_u16(out, l, numerics::fp32_to_fp16(load_f32(in[0], l)));
        store_u16(out, lanes + l, numerics::fp32_to_fp16(load_f32(in[1], l)));
      }
      return;
    case Opcode::ConvertF16ToF32:
      for (int l = 0; l < lanes; ++l)
        store_f32(out, l, numerics::fp16_to_fp32(load_u16(in[0], imm * lanes + l)));
      return;
    case Opcode::ConvertF32ToI8:
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < lanes; ++l)
          out[k * lanes + l] = static_cast<std::uint8_t>(convert_f32_to_i8(load_f32(in[k], l)));
      return;
    case Opcode::ConvertI32ToF32:
      for (int l = 0; l < lanes; ++l) store_f32(out, l, static_cast<float>(load_i32(in[0], l)));
      return;
    case Opcode::Rotate: {
      const int shift = static_cast<int>(((std::int64_t{imm} % lanes) + lanes) % lanes);
      for (int l = 0; l < lanes; ++l) store_f32(out, l, load_f32(in[0], (l + shift) % lanes));
      return;
    }
    case Opcode::Distribute: {
      const float x = load_f32(in[0], imm);
      for (int l = 0; l < lanes; ++l) store_f32(out, l, x);
      return;
    }
    default: break;
  }
  fail("'{}' has no vector semantics", info.mnemonic);
}

}  // namespace lockstep::lpu
