#include "support/random_program.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "core/rng.h"
#include "lpu/program/program_check.h"

namespace lockstep::testing {
namespace {

using namespace lpu;

// Uniform in [lo, hi] (hi - lo small enough for the modulo bias not to matter here).
std::int64_t between(Rng& rng, std::int64_t lo, std::int64_t hi) {
  return lo + static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(hi - lo + 1));
}
bool coin(Rng& rng) { return rng.next() & 1; }

std::vector<Opcode> opcodes_of(Unit unit) {
  std::vector<Opcode> ops;
  for (int op = 0; op < kOpcodeCount; ++op)
    if (opcode_info(static_cast<Opcode>(op)).unit == unit) ops.push_back(static_cast<Opcode>(op));
  return ops;
}

// A stream whose group of `count` consecutive streams fits.
std::uint8_t random_stream(Rng& rng, const ChipConfig& chip, int count, Direction direction) {
  const auto index = static_cast<std::uint8_t>(between(rng, 0, chip.streams_per_direction - count));
  return encode_stream({direction, index});
}

Direction random_direction(Rng& rng) { return coin(rng) ? Direction::East : Direction::West; }

void set_width(Rng& rng, const ChipConfig& chip, Instruction& in) {
  if (in.opcode == Opcode::LoadWeights)
    in.width = static_cast<std::uint8_t>(between(rng, 1, chip.mxm_load_streams));
  if (in.opcode == Opcode::Read || in.opcode == Opcode::Write)
    in.width = static_cast<std::uint8_t>(between(rng, 1, 2));
}

void set_streams(Rng& rng, const ChipConfig& chip, const QueueInfo& queue, int positions,
                 Instruction& in) {
  const OpcodeInfo& info = opcode_info(in.opcode);
  for (int k = 0; k < info.stream_inputs; ++k)
    in.in[k] = random_stream(rng, chip, k == 0 && info.width_scales_inputs ? in.width : 1,
                             random_direction(rng));
  if (info.stream_outputs == 0) return;
  const int outputs = info.width_scales_outputs ? in.width : info.stream_outputs;
  const Direction d = random_direction(rng);
  in.out = random_stream(rng, chip, outputs, d);
  in.reach =
      static_cast<std::uint8_t>(d == Direction::East ? between(rng, queue.position, positions - 1)
                                                     : between(rng, 0, queue.position));
}

// addr and addr_step such that addr + i * step stays in [0, limit - extra) for i < repeat.
void set_iterated_address(Rng& rng, Instruction& in, std::int64_t limit, std::int64_t extra) {
  in.addr_step = static_cast<std::int32_t>(between(rng, 0, 2));
  const std::int64_t span = std::int64_t{in.repeat - 1} * in.addr_step + extra;
  in.addr = static_cast<std::uint32_t>(between(rng, 0, limit - 1 - span));
}

void set_mem_operands(Rng& rng, const ChipConfig& chip, Instruction& in) {
  const std::int64_t capacity = std::int64_t{chip.banks_per_slice} * chip.vectors_per_bank;
  if (in.opcode == Opcode::Gather || in.opcode == Opcode::Scatter) {
    in.imm = static_cast<std::int32_t>(between(rng, 0, 4));
    in.imm2 = static_cast<std::int32_t>(between(rng, 0, 1000));
    in.imm3 = static_cast<std::int32_t>(between(rng, 0, 8));
    // Every row an iteration may touch shares one bank (its port is reserved statically).
    set_iterated_address(rng, in, chip.vectors_per_bank, std::int64_t{std::max(in.imm3 - 1, 0)} * in.imm);
    in.addr += static_cast<std::uint32_t>(between(rng, 0, chip.banks_per_slice - 1) * chip.vectors_per_bank);
    return;
  }
  set_iterated_address(rng, in, in.width == 2 ? chip.vectors_per_bank : capacity, 0);
}

void set_mxm_operands(Rng& rng, const ChipConfig& chip, Instruction& in) {
  switch (in.opcode) {
    case Opcode::LoadWeights:
      in.addr = static_cast<std::uint32_t>(
          between(rng, 0, chip.mxm_plane_rows - std::int64_t{in.repeat} * in.width));
      return;
    case Opcode::InstallWeights:
      in.addr = static_cast<std::uint32_t>(between(rng, 1, chip.mxm_plane_rows));
      in.imm = static_cast<std::int32_t>(coin(rng) ? ElementType::I8 : ElementType::F16);
      return;
    default:
      if (in.opcode == Opcode::Compute) in.imm = static_cast<std::int32_t>(between(rng, 0, 1));
      set_iterated_address(rng, in, chip.mxm_accumulator_rows, 0);
  }
}

void set_vector_operands(Rng& rng, const ChipConfig& chip, Instruction& in) {
  if (in.opcode == Opcode::Rotate || in.opcode == Opcode::Distribute)
    in.imm = static_cast<std::int32_t>(between(rng, 0, chip.fp32_lanes() - 1));
  if (in.opcode == Opcode::ConvertF16ToF32) in.imm = static_cast<std::int32_t>(between(rng, 0, 1));
  if (in.opcode == Opcode::AddImm || in.opcode == Opcode::MulImm)
    in.fimm = static_cast<float>((rng.uniform() - 0.5) * 16);
}

Instruction random_valid_instruction(Rng& rng, const ChipConfig& chip, const QueueInfo& queue,
                                     int positions, std::uint64_t first_free_cycle) {
  const auto ops = opcodes_of(queue.unit);
  Instruction in;
  in.opcode = ops[between(rng, 0, std::ssize(ops) - 1)];
  if (queue.unit == Unit::C2c) in.opcode = queue.transmit ? Opcode::Send : Opcode::Receive;
  in.cycle = first_free_cycle + static_cast<std::uint64_t>(between(rng, 0, 5));
  in.repeat = static_cast<std::uint32_t>(between(rng, 1, 4));
  in.stride = static_cast<std::uint16_t>(between(rng, 1, 3));
  set_width(rng, chip, in);
  set_streams(rng, chip, queue, positions, in);
  if (queue.unit == Unit::Mem)
    set_mem_operands(rng, chip, in);
  else if (queue.unit == Unit::Vxm || queue.unit == Unit::Sxm)
    set_vector_operands(rng, chip, in);
  else if (queue.unit != Unit::C2c)
    set_mxm_operands(rng, chip, in);
  return in;
}

std::vector<std::uint8_t> random_bytes(Rng& rng, std::size_t n) {
  std::vector<std::uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng.next());
  return bytes;
}

void add_valid_memory_and_buffers(Rng& rng, const ChipConfig& chip, const Floorplan& floorplan,
                                  Program& p) {
  const int segments = static_cast<int>(between(rng, 0, 2));
  for (int s = 0; s < segments; ++s)  // slice s * 3 + k: distinct slices, so no overlap
    p.memory.push_back(
        {static_cast<int>(s * 3 + between(rng, 0, 2)),
         static_cast<std::uint32_t>(between(rng, 0, chip.vectors_per_bank)),
         random_bytes(rng, static_cast<std::size_t>(between(rng, 0, 2)) * chip.vector_bytes)});
  const int buffers = static_cast<int>(between(rng, 0, 3));
  for (int b = 0; b < buffers; ++b) {
    HostBuffer buffer;
    buffer.name = "buffer." + std::to_string(b);
    buffer.is_input = coin(rng);
    buffer.slice = static_cast<int>(between(rng, 0, floorplan.mem_slices() - 1));
    buffer.vectors = static_cast<std::uint32_t>(between(rng, 1, 4));
    buffer.addr = static_cast<std::uint32_t>(between(rng, 0, chip.vectors_per_bank));
    buffer.type = static_cast<ElementType>(between(rng, 0, 3));
    buffer.elements =
        static_cast<std::uint32_t>(between(rng, 1, buffer.vectors * chip.fp32_lanes()));
    p.buffers.push_back(buffer);
  }
}

// ----- encodable: anything the readers accept

std::uint32_t sometimes(Rng& rng, std::uint32_t fallback) {
  return coin(rng) ? fallback : static_cast<std::uint32_t>(rng.next());
}

std::uint8_t any_stream_byte(Rng& rng) {
  return coin(rng) ? kNoStream : static_cast<std::uint8_t>(rng.next() % 64);
}

float any_float(Rng& rng) {
  static constexpr float kSpecial[] = {0.0f,   -0.0f,          INFINITY, -INFINITY,
                                       1e-45f, -3.4028235e38f, 0.1f,     1.0f / 3};
  if (coin(rng)) return kSpecial[rng.next() % std::size(kSpecial)];
  const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng.next()));
  return std::isnan(f) ? 2.5f : f;
}

std::string any_string(Rng& rng) {
  static constexpr std::string_view kPieces[] = {
      "lpu-v1", " ",    "\"",   "\\",       "\n", "\r",     "\t", "#",
      "x4/1",   "\x7f", "\x01", "\xc3\xa9", "é",  "decode", "=",  "\\x41"};
  std::string s;
  const auto n = between(rng, 0, 6);
  for (int i = 0; i < n; ++i) s += kPieces[rng.next() % std::size(kPieces)];
  return s;
}

Instruction any_instruction(Rng& rng) {
  Instruction in;
  in.cycle = coin(rng) ? rng.next() : rng.next() % 1000;
  in.repeat = std::max<std::uint32_t>(1, sometimes(rng, 1));
  in.stride = static_cast<std::uint16_t>(std::max<std::uint32_t>(1, sometimes(rng, 1) & 0xffff));
  in.opcode = static_cast<Opcode>(rng.next() % kOpcodeCount);
  in.width = static_cast<std::uint8_t>(sometimes(rng, 1));
  for (auto& s : in.in) s = any_stream_byte(rng);
  in.out = any_stream_byte(rng);
  in.reach = static_cast<std::uint8_t>(sometimes(rng, 0));
  in.addr = sometimes(rng, 0);
  in.addr_step = static_cast<std::int32_t>(sometimes(rng, 0));
  in.imm = static_cast<std::int32_t>(sometimes(rng, 0));
  in.imm2 = static_cast<std::int32_t>(sometimes(rng, 0));
  in.imm3 = static_cast<std::int32_t>(sometimes(rng, 0));
  in.fimm = coin(rng) ? 0.0f : any_float(rng);
  return in;
}

void add_any_memory_and_buffers(Rng& rng, Program& p) {
  for (auto n = between(rng, 0, 3); n > 0; --n)
    p.memory.push_back({static_cast<int>(sometimes(rng, 5)), sometimes(rng, 0),
                        random_bytes(rng, static_cast<std::size_t>(between(rng, 0, 100)))});
  for (auto n = between(rng, 0, 3); n > 0; --n) {
    HostBuffer b;
    b.name = any_string(rng);
    b.is_input = coin(rng);
    b.slice = static_cast<int>(sometimes(rng, 0));
    b.addr = sometimes(rng, 0);
    b.vectors = sometimes(rng, 1);
    b.type = static_cast<ElementType>(rng.next() % 4);
    b.elements = sometimes(rng, 1);
    p.buffers.push_back(b);
  }
}

}  // namespace

Program random_valid_program(std::uint64_t seed, const ChipConfig& chip,
                             const Floorplan& floorplan) {
  Rng rng(seed);
  Program p;
  p.system = "lpu-v1";
  p.description = "random valid program " + std::to_string(seed);
  p.queues.resize(floorplan.queue_count());
  for (auto n = between(rng, 0, 40); n > 0; --n) {
    const int q = static_cast<int>(between(rng, 0, floorplan.queue_count() - 1));
    auto& queue = p.queues[q];
    const std::uint64_t free = queue.empty() ? 0 : queue.back().last_issue() + 1;
    queue.push_back(
        random_valid_instruction(rng, chip, floorplan.queues()[q], floorplan.positions(), free));
  }
  add_valid_memory_and_buffers(rng, chip, floorplan, p);
  p.predicted_cycles = program_end_cycle(p, chip);
  return p;
}

Program random_encodable_program(std::uint64_t seed, const Floorplan& floorplan) {
  Rng rng(seed);
  Program p;
  p.system = any_string(rng);
  p.description = any_string(rng);
  p.predicted_cycles = coin(rng) ? rng.next() : 0;
  p.queues.resize(floorplan.queue_count());
  for (auto n = between(rng, 0, 30); n > 0; --n)
    p.queues[rng.next() % p.queues.size()].push_back(any_instruction(rng));
  add_any_memory_and_buffers(rng, p);
  return p;
}

}  // namespace lockstep::testing
