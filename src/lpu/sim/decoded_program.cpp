#include "lpu/sim/decoded_program.h"

#include <algorithm>
#include <string>

#include "lpu/program/machine_rule_violation.h"
#include "lpu/sim/vector_alu.h"

namespace lockstep::lpu {
namespace {

// Cycles beyond this would overflow the simulator's signed arithmetic (keys, ring indices).
constexpr std::uint64_t kMaxCycle = std::uint64_t{1} << 60;

std::string stream_name(std::uint8_t byte) {
  const StreamId s = decode_stream(byte);
  return fmt::format("{}{}", s.direction == Direction::East ? 'e' : 'w', s.index);
}

class Decoder {
 public:
  Decoder(const ChipConfig& chip, const Floorplan& floorplan)
      : chip_(chip), floorplan_(floorplan) {}

  DecodedInstruction decode(const Instruction& in, int queue, int index) {
    queue_ = queue;
    index_ = index;
    cycle_ = in.cycle;
    const QueueInfo& qi = floorplan_.queues()[queue];
    if (static_cast<int>(in.opcode) >= kOpcodeCount)
      fail_here("has opcode number {}, which the ISA does not define", static_cast<int>(in.opcode));
    const OpcodeInfo& info = opcode_info(in.opcode);
    if (info.unit != qi.unit)
      fail_here("is '{}', a {} instruction, but {} runs only {} instructions", info.mnemonic,
                unit_name(info.unit), qi.name, unit_name(qi.unit));
    if (in.repeat < 1) fail_here("has repeat 0 (at least 1 iteration)");
    if (in.stride < 1) fail_here("has stride 0 (at least 1 cycle between iterations)");
    if (in.last_issue() >= kMaxCycle || in.last_issue() < in.cycle)
      fail_here("issues beyond cycle 2^60");

    DecodedInstruction d;
    d.cycle = static_cast<std::int64_t>(in.cycle);
    d.stride = in.stride;
    d.repeat = in.repeat;
    d.opcode = in.opcode;
    d.width = in.width;
    d.queue = queue;
    d.index = index;
    d.position = qi.position;
    d.delay = chip_.delay(info.delay_class);
    if (d.delay < 1)
      fail_here("has functional delay {} (the hardware description must give >= 1)", d.delay);
    d.imm = in.imm;
    d.imm2 = in.imm2;
    d.imm3 = in.imm3;
    d.fimm = in.fimm;

    check_width(in, info);
    decode_inputs(in, info, d);
    decode_outputs(in, info, d);
    if (info.unit == Unit::Mem) decode_memory(in, qi, d);
    if (info.unit == Unit::MxmLoad || info.unit == Unit::MxmCompute || info.unit == Unit::MxmEmit)
      decode_mxm(in, qi, d);
    if (info.unit == Unit::C2c) {
      const bool send = in.opcode == Opcode::Send;
      if (send != qi.transmit)
        fail_here("is '{}', but {} is a {} queue ('{}' runs only on c2c.N.{})", info.mnemonic,
                  qi.name, qi.transmit ? "transmit" : "receive", info.mnemonic,
                  send ? "tx" : "rx");
      d.channel = qi.index;
    }
    if ((info.unit == Unit::Vxm || info.unit == Unit::Sxm) &&
        !vector_op_immediate_is_valid(in.opcode, in.imm, chip_.vector_bytes))
      fail_here("has immediate {}, out of range for '{}'", in.imm, info.mnemonic);
    return d;
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail_here(fmt::format_string<Args...> format, Args&&... args) const {
    violation("{} instruction {} (cycle {}) {}", floorplan_.queues()[queue_].name, index_, cycle_,
              fmt::format(format, std::forward<Args>(args)...));
  }

  void check_width(const Instruction& in, const OpcodeInfo& info) const {
    int max_width = 1;
    if (in.opcode == Opcode::Read || in.opcode == Opcode::Write)
      max_width = std::min(2, chip_.banks_per_slice);
    else if (in.opcode == Opcode::LoadWeights)
      max_width = std::min(chip_.mxm_load_streams, kMaxStreamInputs);
    if (in.width < 1 || in.width > max_width)
      fail_here("has width {} ('{}' takes 1 to {})", in.width, info.mnemonic, max_width);
  }

  // A stream byte names an existing stream: bits 6-7 clear, index below streams_per_direction,
  // and `count` consecutive streams from it exist.
  void check_stream(std::uint8_t byte, int count, const char* role) const {
    if (byte == kNoStream) fail_here("has no {} stream", role);
    if ((byte & 0xC0) != 0)
      fail_here("has {} stream byte {:#04x}, which names no stream", role, byte);
    const StreamId s = decode_stream(byte);
    if (s.index + count > chip_.streams_per_direction)
      fail_here("uses {} streams {}..{}{}, beyond the {} streams of a direction", role,
                stream_name(byte), s.direction == Direction::East ? 'e' : 'w', s.index + count - 1,
                chip_.streams_per_direction);
  }

  void decode_inputs(const Instruction& in, const OpcodeInfo& info, DecodedInstruction& d) const {
    const int operands = info.width_scales_inputs ? 1 : info.stream_inputs;
    const int count = info.width_scales_inputs ? in.width : info.stream_inputs;
    for (int j = 0; j < 4; ++j) {
      if (j < operands) {
        check_stream(in.in[j], info.width_scales_inputs ? in.width : 1, "input");
      } else if (in.in[j] != kNoStream) {
        fail_here("names input {} (stream {}), which '{}' does not read", j, stream_name(in.in[j]),
                  info.mnemonic);
      }
    }
    d.inputs = static_cast<std::uint8_t>(count);
    for (int k = 0; k < count; ++k) {
      const std::uint8_t byte = info.width_scales_inputs ? in.in[0] : in.in[k];
      StreamId s = decode_stream(byte);
      if (info.width_scales_inputs) s.index = static_cast<std::uint8_t>(s.index + k);
      d.in_stream[k] = static_cast<std::uint8_t>(flat_stream(s));
      d.in_key_offset[k] = s.direction == Direction::East ? -d.position : d.position;
    }
  }

  void decode_outputs(const Instruction& in, const OpcodeInfo& info, DecodedInstruction& d) const {
    const int count = info.width_scales_outputs ? in.width : info.stream_outputs;
    if (count == 0) {
      if (in.out != kNoStream)
        fail_here("names output stream {}, but '{}' writes no stream", stream_name(in.out),
                  info.mnemonic);
      return;
    }
    check_stream(in.out, count, "output");
    const StreamId s = decode_stream(in.out);
    const int reach = in.reach;
    if (reach >= floorplan_.positions())
      fail_here("has reach {}, beyond the last position {}", reach, floorplan_.positions() - 1);
    if (s.direction == Direction::East && reach < d.position)
      fail_here("writes eastward stream {} from position {} but its reach {} lies to the west",
                stream_name(in.out), d.position, reach);
    if (s.direction == Direction::West && reach > d.position)
      fail_here("writes westward stream {} from position {} but its reach {} lies to the east",
                stream_name(in.out), d.position, reach);
    d.outputs = static_cast<std::uint8_t>(count);
    d.out_stream = static_cast<std::uint8_t>(flat_stream(s));
    d.out_key_offset = s.direction == Direction::East ? d.delay - d.position : d.delay + d.position;
    d.segment_lo = static_cast<std::uint8_t>(std::min(d.position, reach));
    d.segment_hi = static_cast<std::uint8_t>(std::max(d.position, reach));
  }

  void decode_memory(const Instruction& in, const QueueInfo& qi, DecodedInstruction& d) const {
    const std::int64_t per_bank = chip_.vectors_per_bank;
    const std::int64_t slice_vectors = per_bank * chip_.banks_per_slice;
    d.slice = qi.index;
    d.bank_base = qi.index * chip_.banks_per_slice;
    d.addr = in.addr;
    d.addr_step = in.addr_step;
    const std::int64_t first = d.addr;
    const std::int64_t last = d.addr + std::int64_t{in.repeat - 1} * d.addr_step;
    const std::int64_t low = std::min(first, last);
    const std::int64_t high = std::max(first, last);
    const bool gather = in.opcode == Opcode::Gather || in.opcode == Opcode::Scatter;
    if (gather) {
      if (in.imm < 0) fail_here("has row stride {} (must be >= 0)", in.imm);
      if (in.imm3 < 0) fail_here("holds {} rows (must be >= 0)", in.imm3);
    }
    // Highest address an iteration may touch above its base.
    const std::int64_t span = gather && in.imm3 > 0 ? std::int64_t{in.imm3 - 1} * in.imm : 0;
    const std::int64_t limit = in.width == 2 ? per_bank : slice_vectors;
    if (low < 0 || high + span >= limit)
      fail_here("addresses vectors {}..{} of a {} of {} vectors", low, high + span,
                in.width == 2 ? "bank (width 2 reads bank 0 and its twin in bank 1)" : "slice",
                limit);
    if (gather) {
      // The bank port is reserved statically, so every row an iteration may touch must share
      // the bank of its base address.
      for (std::int64_t base : {low, high})
        if (base / per_bank != (base + span) / per_bank)
          fail_here("may touch rows {}..{}, which straddle two banks", base, base + span);
    }
    if (low / per_bank == high / per_bank) d.fixed_bank = static_cast<std::int32_t>(low / per_bank);
  }

  void decode_mxm(const Instruction& in, const QueueInfo& qi, DecodedInstruction& d) const {
    d.plane = qi.index;
    d.addr = in.addr;
    d.addr_step = in.addr_step;
    switch (in.opcode) {
      case Opcode::LoadWeights: {
        const std::uint64_t end = std::uint64_t{in.addr} + std::uint64_t{in.repeat} * in.width;
        if (end > static_cast<std::uint64_t>(chip_.mxm_plane_rows))
          fail_here("loads buffer rows {}..{}, beyond the {} rows of a plane", in.addr, end - 1,
                    chip_.mxm_plane_rows);
        break;
      }
      case Opcode::InstallWeights:
        if (in.addr > static_cast<std::uint32_t>(chip_.mxm_plane_rows))
          fail_here("installs {} rows, more than the {} of a plane", in.addr, chip_.mxm_plane_rows);
        if (in.imm != static_cast<int>(ElementType::I8) &&
            in.imm != static_cast<int>(ElementType::F16))
          fail_here("installs element type {} (only i8 = {} or f16 = {})", in.imm,
                    static_cast<int>(ElementType::I8), static_cast<int>(ElementType::F16));
        break;
      case Opcode::Compute:
      case Opcode::Emit: {
        const std::int64_t first = d.addr;
        const std::int64_t last = d.addr + std::int64_t{in.repeat - 1} * d.addr_step;
        if (std::min(first, last) < 0 || std::max(first, last) >= chip_.mxm_accumulator_rows)
          fail_here("uses accumulator rows {}..{} of {}", std::min(first, last),
                    std::max(first, last), chip_.mxm_accumulator_rows);
        if (in.opcode == Opcode::Compute && in.imm != 0 && in.imm != 1)
          fail_here("has immediate {} (0 overwrites the accumulator row, 1 accumulates)", in.imm);
        break;
      }
      default: break;
    }
  }

  const ChipConfig& chip_;
  const Floorplan& floorplan_;
  int queue_ = 0;
  int index_ = 0;
  std::uint64_t cycle_ = 0;
};

}  // namespace

DecodedProgram decode_program(const Program& program, const ChipConfig& chip,
                              const Floorplan& floorplan) {
  if (static_cast<int>(program.queues.size()) > floorplan.queue_count())
    violation("the program has {} instruction queues, the chip {}", program.queues.size(),
              floorplan.queue_count());
  DecodedProgram out;
  out.queue_begin.assign(floorplan.queue_count() + 1, 0);
  out.queue_iterations.assign(floorplan.queue_count(), 0);
  out.instructions.reserve(program.instruction_count());
  Decoder decoder(chip, floorplan);
  for (int q = 0; q < floorplan.queue_count(); ++q) {
    out.queue_begin[q] = static_cast<std::uint32_t>(out.instructions.size());
    if (q >= static_cast<int>(program.queues.size())) continue;
    const auto& queue = program.queues[q];
    for (int k = 0; k < static_cast<int>(queue.size()); ++k) {
      const Instruction& in = queue[k];
      if (k > 0 && in.cycle <= queue[k - 1].last_issue())
        violation(
            "{} instruction {} issues at cycle {}, but instruction {} still issues until "
            "cycle {}: a queue issues in order, one instruction after the other",
            floorplan.queues()[q].name, k, in.cycle, k - 1, queue[k - 1].last_issue());
      const DecodedInstruction d = decoder.decode(in, q, k);
      out.instructions.push_back(d);
      const OpcodeInfo& info = opcode_info(d.opcode);
      out.iterations += d.repeat;
      out.queue_iterations[q] += d.repeat;
      out.unit_iterations[static_cast<int>(info.unit)] += d.repeat;
      out.stream_vector_hops +=
          std::uint64_t{d.repeat} * d.outputs * (std::uint64_t{d.segment_hi} - d.segment_lo + 1);
      if (info.reads_memory || info.writes_memory) {
        const bool both_banks = d.opcode == Opcode::Read || d.opcode == Opcode::Write;
        out.mem_bank_accesses += std::uint64_t{d.repeat} * (both_banks ? d.width : 1);
      }
      if (d.outputs > 0) out.max_output_delay = std::max(out.max_output_delay, d.delay);
      if (info.unit == Unit::C2c) out.uses_links = true;
      if (info.unit == Unit::Mem) out.max_memory_delay = std::max(out.max_memory_delay, d.delay);
    }
  }
  out.queue_begin[floorplan.queue_count()] = static_cast<std::uint32_t>(out.instructions.size());
  out.cycles = program_run_cycles(program, chip);
  return out;
}

std::uint64_t program_run_cycles(const Program& program, const ChipConfig& chip) {
  std::uint64_t last_effect = 0;
  bool any = false;
  for (const auto& queue : program.queues)
    for (const auto& in : queue) {
      if (static_cast<int>(in.opcode) >= kOpcodeCount) continue;
      const int delay = chip.delay(opcode_info(in.opcode).delay_class);
      last_effect = std::max(last_effect, in.last_issue() + static_cast<std::uint64_t>(delay));
      any = true;
    }
  return any ? last_effect + 1 + static_cast<std::uint64_t>(chip.superlanes - 1) : 0;
}

}  // namespace lockstep::lpu
