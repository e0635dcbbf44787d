#include "lpu/program/program_stats.h"

#include <cstdlib>

namespace lockstep::lpu {
namespace {

double ratio(double used, double capacity) { return capacity > 0 ? used / capacity : 0.0; }

}  // namespace

ProgramStats program_stats(const Program& program, const Floorplan& floorplan) {
  ProgramStats s;
  s.cycles = program.predicted_cycles;
  for (std::size_t q = 0; q < program.queues.size(); ++q) {
    const QueueInfo& queue = floorplan.queues()[q];
    for (const Instruction& in : program.queues[q]) {
      const OpcodeInfo& info = opcode_info(in.opcode);
      s.iterations[static_cast<int>(info.unit)] += in.repeat;
      if (in.opcode == Opcode::Compute) s.mxm_compute_iterations += in.repeat;
      const std::uint64_t width = in.width ? in.width : 1;
      if (info.reads_memory || info.writes_memory)
        s.bank_accesses += in.repeat * ((in.opcode == Opcode::Read || in.opcode == Opcode::Write) ? width : 1);
      const std::uint64_t outputs = info.width_scales_outputs ? width : info.stream_outputs;
      if (outputs > 0 && in.out != kNoStream)
        s.stream_hops += in.repeat * outputs *
                         (static_cast<std::uint64_t>(std::abs(int(in.reach) - queue.position)) + 1);
    }
  }
  return s;
}

double ProgramStats::mxm_utilisation(const ChipConfig&, const Floorplan& fp) const {
  return ratio(double(mxm_compute_iterations), double(cycles) * fp.mxm_planes());
}

double ProgramStats::vxm_utilisation(const ChipConfig& chip) const {
  return ratio(double(iterations[static_cast<int>(Unit::Vxm)]), double(cycles) * chip.vxm_alus);
}

double ProgramStats::mem_utilisation(const ChipConfig& chip, const Floorplan& fp) const {
  return ratio(double(bank_accesses), double(cycles) * fp.mem_slices() * chip.banks_per_slice);
}

double ProgramStats::stream_utilisation(const ChipConfig& chip, const Floorplan& fp) const {
  return ratio(double(stream_hops), double(cycles) * 2 * chip.streams_per_direction * fp.positions());
}

}  // namespace lockstep::lpu
