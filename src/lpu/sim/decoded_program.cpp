#include "lpu/sim/decoded_program.h"

#include <algorithm>
#include <string>

#include "lpu/program/program_check.h"

namespace lockstep::lpu {
namespace {

// Flattens one instruction that check_program accepted: no rule is checked here.
class Decoder {
 public:
  Decoder(const ChipConfig& chip, const Floorplan& floorplan)
      : chip_(chip), floorplan_(floorplan) {}

  DecodedInstruction decode(const Instruction& in, int queue, int index) const {
    const QueueInfo& qi = floorplan_.queues()[queue];
    const OpcodeInfo& info = opcode_info(in.opcode);
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
    d.imm = in.imm;
    d.imm2 = in.imm2;
    d.imm3 = in.imm3;
    d.fimm = in.fimm;
    d.order = in.order;
    decode_inputs(in, info, d);
    decode_outputs(in, info, d);
    if (info.unit == Unit::Mem) decode_memory(in, qi, d);
    if (info.unit == Unit::MxmLoad || info.unit == Unit::MxmCompute || info.unit == Unit::MxmEmit) {
      d.plane = qi.index;
      d.addr = in.addr;
      d.addr_step = in.addr_step;
    }
    if (info.unit == Unit::C2c) d.channel = qi.index;
    return d;
  }

 private:
  void decode_inputs(const Instruction& in, const OpcodeInfo& info, DecodedInstruction& d) const {
    const int count = info.width_scales_inputs ? in.width : info.stream_inputs;
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
    if (count == 0) return;
    const StreamId s = decode_stream(in.out);
    const int reach = in.reach;
    d.outputs = static_cast<std::uint8_t>(count);
    d.out_stream = static_cast<std::uint8_t>(flat_stream(s));
    d.out_key_offset = s.direction == Direction::East ? d.delay - d.position : d.delay + d.position;
    d.segment_lo = static_cast<std::uint8_t>(std::min(d.position, reach));
    d.segment_hi = static_cast<std::uint8_t>(std::max(d.position, reach));
  }

  // The bank of every iteration is fixed when its addresses stay in one bank.
  void decode_memory(const Instruction& in, const QueueInfo& qi, DecodedInstruction& d) const {
    const std::int64_t per_bank = chip_.vectors_per_bank;
    d.slice = qi.index;
    d.bank_base = qi.index * chip_.banks_per_slice;
    d.addr = in.addr;
    d.addr_step = in.addr_step;
    const std::int64_t first = d.addr;
    const std::int64_t last = d.addr + std::int64_t{in.repeat - 1} * d.addr_step;
    const std::int64_t low = std::min(first, last), high = std::max(first, last);
    if (low / per_bank == high / per_bank) d.fixed_bank = static_cast<std::int32_t>(low / per_bank);
  }

  const ChipConfig& chip_;
  const Floorplan& floorplan_;
};

}  // namespace

DecodedProgram decode_program(const Program& program, const ChipConfig& chip,
                              const Floorplan& floorplan) {
  check_program(program, chip, floorplan);  // the one static checker (lpu/program)
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
      const DecodedInstruction d = decoder.decode(queue[k], q, k);
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
      if (d.order != 0) out.uses_order = true;
      if (info.unit == Unit::Mem) out.max_memory_delay = std::max(out.max_memory_delay, d.delay);
    }
  }
  out.queue_begin[floorplan.queue_count()] = static_cast<std::uint32_t>(out.instructions.size());
  out.cycles = program_end_cycle(program, chip);
  return out;
}

}  // namespace lockstep::lpu
