#include "lpu/program/program_roofline.h"

#include <fmt/core.h>

#include <algorithm>

namespace lockstep::lpu {
namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return b == 0 ? 0 : (a + b - 1) / b; }

std::string megabytes(double bytes) { return fmt::format("{:.2f} MB", bytes / 1e6); }

}  // namespace

const RooflineBound& Roofline::binding() const {
  static const RooflineBound none{"nothing", 0, ""};
  if (bounds.empty()) return none;
  return *std::max_element(bounds.begin(), bounds.end(),
                           [](const RooflineBound& a, const RooflineBound& b) { return a.cycles < b.cycles; });
}

double Roofline::fraction() const { return cycles == 0 ? 0.0 : double(binding().cycles) / double(cycles); }

Roofline program_roofline(const Program& program, const ChipConfig& chip, const Floorplan& floorplan,
                          std::uint32_t link_occupancy_cycles) {
  std::uint64_t weight_vectors = 0, mxm_cycles = 0, vxm = 0, sxm = 0, mem_issue = 0, bank_accesses = 0;
  std::uint64_t busiest_link = 0, link_vectors = 0;
  Roofline r;
  r.cycles = program.predicted_cycles;
  std::vector<Roofline::Queue> busiest(static_cast<int>(Unit::C2c) + 1);
  for (std::size_t q = 0; q < program.queues.size() && q < floorplan.queues().size(); ++q) {
    const QueueInfo& queue = floorplan.queues()[q];
    std::uint64_t issued = 0, link = 0;
    bool fp16 = false;  // the installed array's type, in the compute queue's issue order
    for (const Instruction& in : program.queues[q]) {
      issued += in.repeat;
      const std::uint64_t width = in.width ? in.width : 1;
      switch (in.opcode) {
        case Opcode::LoadWeights: weight_vectors += std::uint64_t{in.repeat} * width; break;
        case Opcode::InstallWeights:
          fp16 = in.imm == static_cast<std::int32_t>(ElementType::F16);
          mxm_cycles += 1;
          break;
        case Opcode::Compute: mxm_cycles += std::uint64_t{in.repeat} * (fp16 ? 2 : 1); break;
        case Opcode::Read:
        case Opcode::Write: bank_accesses += std::uint64_t{in.repeat} * width; break;
        case Opcode::Gather:
        case Opcode::Scatter: bank_accesses += in.repeat; break;
        case Opcode::Send:
        case Opcode::Receive: link += in.repeat; break;
        default: break;
      }
    }
    switch (queue.unit) {
      case Unit::Mem: mem_issue += issued; break;
      case Unit::Vxm: vxm += issued; break;
      case Unit::Sxm: sxm += issued; break;
      default: break;
    }
    link_vectors += link;
    busiest_link = std::max(busiest_link, link);
    Roofline::Queue& top = busiest[static_cast<int>(queue.unit)];
    if (issued > top.iterations) top = {queue.name, issued};
  }
  for (const Roofline::Queue& q : busiest)
    if (q.iterations > 0) r.busiest.push_back(q);
  const std::uint64_t vb = static_cast<std::uint64_t>(chip.vector_bytes);
  const int planes = floorplan.mxm_planes(), slices = floorplan.mem_slices();
  const std::uint64_t load_rate = std::uint64_t(planes) * chip.mxm_load_streams;  // vectors/cycle
  r.bounds.push_back({"weights into the MXM", ceil_div(weight_vectors, load_rate),
                      fmt::format("{} at {} B/cycle ({} planes x {} rows x {} B)",
                                  megabytes(double(weight_vectors * vb)), load_rate * vb, planes,
                                  chip.mxm_load_streams, vb)});
  r.bounds.push_back({"MXM arithmetic", ceil_div(mxm_cycles, planes),
                      fmt::format("{} plane-cycles of passes and installs over {} planes", mxm_cycles, planes)});
  r.bounds.push_back({"VXM", ceil_div(vxm, chip.vxm_alus),
                      fmt::format("{} iterations over {} ALUs", vxm, chip.vxm_alus)});
  const auto sxm_queues = std::count_if(floorplan.queues().begin(), floorplan.queues().end(),
                                        [](const QueueInfo& q) { return q.unit == Unit::Sxm; });
  r.bounds.push_back({"SXM", ceil_div(sxm, sxm_queues),
                      fmt::format("{} iterations over {} queues", sxm, sxm_queues)});
  r.bounds.push_back({"MEM issue", ceil_div(mem_issue, slices),
                      fmt::format("{} iterations over {} slice queues", mem_issue, slices)});
  r.bounds.push_back({"MEM bank ports", ceil_div(bank_accesses, std::uint64_t(slices) * chip.banks_per_slice),
                      fmt::format("{} accesses over {} banks", bank_accesses, slices * chip.banks_per_slice)});
  if (link_occupancy_cycles > 0 && link_vectors > 0)
    r.bounds.push_back({"C2C links", busiest_link * link_occupancy_cycles,
                        fmt::format("{} on the busiest channel at {:.1f} B/cycle ({} vectors in all)",
                                    megabytes(double(busiest_link * vb)),
                                    double(vb) / link_occupancy_cycles, link_vectors)});
  if (program.dataflow_cycles > 0)
    r.bounds.push_back({"dependency chain", program.dataflow_cycles,
                        "the program's data dependences and delays, every resource free"});
  return r;
}

}  // namespace lockstep::lpu
