#include "lpu/sim/trace.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

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

std::string json_string(const std::string& text) { return nlohmann::json(text).dump(); }

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

}  // namespace

ChromeTraceWriter::ChromeTraceWriter(const std::string& path, std::uint64_t max_events)
    : file_(path, std::ios::binary | std::ios::trunc), out_(&file_), max_events_(max_events) {
  if (!file_) fail("cannot open trace file {} for writing", path);
}

ChromeTraceWriter::ChromeTraceWriter(std::ostream& out, std::uint64_t max_events)
    : out_(&out), max_events_(max_events) {}

ChromeTraceWriter::~ChromeTraceWriter() {
  try {
    close();
  } catch (...) {
  }
}

double ChromeTraceWriter::microseconds(std::uint64_t cycle) const {
  return static_cast<double>(cycle) / clock_hz_ * 1e6;
}

bool ChromeTraceWriter::admit() {
  if (truncated_) return false;
  if (events_ + 1 >= max_events_) {
    truncated_ = true;
    event(fmt::format(
        R"({{"name":"trace truncated after {} events","ph":"i","s":"g","pid":0,"tid":0,)"
        R"("ts":{:.4f}}})",
        events_, microseconds(last_cycle_)));
    return false;
  }
  return true;
}

void ChromeTraceWriter::event(const std::string& json) {
  if (!first_) *out_ << ",\n";
  first_ = false;
  *out_ << json;
  ++events_;
}

void ChromeTraceWriter::begin_run(const ChipConfig& chip, const Floorplan& floorplan,
                                  const Program& program) {
  if (started_) fail("a trace writer records one run; this one has recorded a run already");
  started_ = true;
  clock_hz_ = chip.clock_hz > 0 ? chip.clock_hz : 1e9;
  floorplan_ = &floorplan;
  *out_ << "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"system\":" << json_string(program.system)
        << ",\"description\":" << json_string(program.description)
        << ",\"clock_hz\":" << fmt::format("{}", clock_hz_) << "},\"traceEvents\":[\n";
  open_ = true;
  for (int pid = 0; pid <= 4; ++pid) {
    if (!admit()) return;
    event(fmt::format(R"({{"name":"process_name","ph":"M","pid":{},"args":{{"name":"{}"}}}})", pid,
                      kProcessNames[pid]));
    if (!admit()) return;
    event(fmt::format(R"({{"name":"process_sort_index","ph":"M","pid":{},)"
                      R"("args":{{"sort_index":{}}}}})",
                      pid, pid));
  }
  for (int q = 0; q < floorplan.queue_count(); ++q) {
    // Only queues with work get a track, so the timeline shows what the program uses.
    if (q >= static_cast<int>(program.queues.size()) || program.queues[q].empty()) continue;
    const QueueInfo& info = floorplan.queues()[q];
    const int pid = process_of(info.unit);
    if (!admit()) return;
    event(fmt::format(R"({{"name":"thread_name","ph":"M","pid":{},"tid":{},)"
                      R"("args":{{"name":{}}}}})",
                      pid, q + 1, json_string(info.name)));
    if (!admit()) return;
    event(fmt::format(R"({{"name":"thread_sort_index","ph":"M","pid":{},"tid":{},)"
                      R"("args":{{"sort_index":{}}}}})",
                      pid, q + 1, info.position * 8 + static_cast<int>(info.unit)));
  }
}

void ChromeTraceWriter::instruction(int queue, int index, const Instruction& instruction,
                                    int delay) {
  last_cycle_ = instruction.cycle;
  if (!open_ || !admit()) return;
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
  event(fmt::format(R"({{"name":"{}","ph":"X","pid":{},"tid":{},"ts":{:.4f},"dur":{:.4f},)"
                    R"("args":{{"index":{},"cycle":{},"repeat":{},"stride":{},"delay":{},)"
                    R"("streams":{},"addr":{}}}}})",
                    op.mnemonic, process_of(info.unit), queue + 1, microseconds(instruction.cycle),
                    microseconds(span), index, instruction.cycle, instruction.repeat,
                    instruction.stride, delay, json_string(streams), instruction.addr));
}

void ChromeTraceWriter::streams_in_use(std::uint64_t cycle, int east, int west) {
  last_cycle_ = cycle;
  if (!open_ || !admit()) return;
  event(fmt::format(R"({{"name":"streams in use","ph":"C","pid":0,"ts":{:.4f},)"
                    R"("args":{{"east":{},"west":{}}}}})",
                    microseconds(cycle), east, west));
}

void ChromeTraceWriter::end_run(std::uint64_t cycles) {
  if (!open_) return;
  last_cycle_ = cycles;
  if (admit())
    event(fmt::format(R"x({{"name":"end of run ({} cycles)","ph":"i","s":"g","pid":0,"tid":0,)x"
                      R"("ts":{:.4f}}})",
                      cycles, microseconds(cycles)));
  close();
}

void ChromeTraceWriter::close() {
  if (!open_) return;
  *out_ << "\n]}\n";
  out_->flush();
  open_ = false;
}

}  // namespace lockstep::lpu
