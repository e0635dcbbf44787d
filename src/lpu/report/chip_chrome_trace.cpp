#include "lpu/report/chip_chrome_trace.h"

#include <fmt/format.h>

#include "core/error.h"

namespace lockstep::lpu {
namespace {

// Process ids: one per unit kind (the three MXM queues of a plane share the MXM process); 0 is
// the chip, which holds the stream counters.
int process_of(Unit unit) {
  switch (unit) {
    case Unit::Mem: return 1;
    case Unit::Vxm: return 2;
    case Unit::Sxm: return 3;
    default: return 4;
  }
}
constexpr const char* kProcessNames[] = {"chip", "MEM", "VXM", "SXM", "MXM"};

// "e0 w3": the streams an instruction reads.
std::string stream_list(const std::uint8_t* bytes, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    if (bytes[i] == kNoStream) continue;
    const StreamId s = decode_stream(bytes[i]);
    if (!out.empty()) out += ' ';
    out += fmt::format("{}{}", s.direction == Direction::East ? 'e' : 'w', s.index);
  }
  return out;
}

std::int64_t signed_cycle(std::uint64_t cycle) { return static_cast<std::int64_t>(cycle); }

}  // namespace

ChipChromeTrace::ChipChromeTrace(const std::string& path, std::uint64_t max_events)
    : file_(path, std::ios::binary | std::ios::trunc), out_(&file_), max_events_(max_events) {
  if (!file_) fail("cannot open trace file {} for writing", path);
}

ChipChromeTrace::ChipChromeTrace(std::ostream& out, std::uint64_t max_events)
    : out_(&out), max_events_(max_events) {}

ChipChromeTrace::~ChipChromeTrace() = default;  // the writer closes the document

void ChipChromeTrace::begin_run(const ChipConfig& chip, const Floorplan& floorplan,
                                const Program& program) {
  if (writer_) fail("a trace writer records one run; this one has recorded a run already");
  floorplan_ = &floorplan;
  const double clock_hz = chip.clock_hz > 0 ? chip.clock_hz : 1e9;
  writer_ = std::make_unique<core::ChromeTraceWriter>(
      *out_, clock_hz, max_events_,
      core::TraceArgs()
          .add("system", program.system)
          .add("description", program.description)
          .add("clock_hz", clock_hz));
  for (int pid = 0; pid <= 4; ++pid) writer_->process(pid, kProcessNames[pid], pid);
  for (int q = 0; q < floorplan.queue_count(); ++q) {
    // Only queues with work get a track, so the timeline shows what the program uses.
    if (q >= static_cast<int>(program.queues.size()) || program.queues[q].empty()) continue;
    const QueueInfo& info = floorplan.queues()[q];
    writer_->thread(process_of(info.unit), q + 1, info.name,
                    info.position * 8 + static_cast<int>(info.unit));
  }
}

void ChipChromeTrace::instruction(int queue, int index, const Instruction& instruction, int delay) {
  if (!writer_) return;
  const QueueInfo& info = floorplan_->queues()[queue];
  const OpcodeInfo& op = opcode_info(instruction.opcode);
  const std::uint64_t span = instruction.last_issue() - instruction.cycle + 1;
  std::string streams = stream_list(instruction.in, 4);
  if (instruction.out != kNoStream) {
    const int outputs = op.width_scales_outputs ? instruction.width : op.stream_outputs;
    const StreamId s = decode_stream(instruction.out);
    const char d = s.direction == Direction::East ? 'e' : 'w';
    streams += outputs > 1 ? fmt::format(" -> {}{}..{}{}", d, s.index, d, s.index + outputs - 1)
                           : fmt::format(" -> {}{}", d, s.index);
    streams += fmt::format(" reach {}", instruction.reach);
  }
  writer_->complete(process_of(info.unit), queue + 1, op.mnemonic, signed_cycle(instruction.cycle),
                    signed_cycle(span),
                    core::TraceArgs()
                        .add("index", index)
                        .add("cycle", instruction.cycle)
                        .add("repeat", instruction.repeat)
                        .add("stride", instruction.stride)
                        .add("delay", delay)
                        .add("streams", streams)
                        .add("addr", instruction.addr));
}

void ChipChromeTrace::streams_in_use(std::uint64_t cycle, int east, int west) {
  if (!writer_) return;
  writer_->counter(0, "streams in use", signed_cycle(cycle),
                   core::TraceArgs().add("east", east).add("west", west));
}

void ChipChromeTrace::end_run(std::uint64_t cycles) {
  if (!writer_) return;
  writer_->instant(0, 0, fmt::format("end of run ({} cycles)", cycles), signed_cycle(cycles));
  writer_->close();
}

}  // namespace lockstep::lpu
