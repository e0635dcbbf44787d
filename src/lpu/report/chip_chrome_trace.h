// A timeline of one simulated chip run that a person can open in Perfetto (ui.perfetto.dev) or
// chrome://tracing: a TraceSink (lpu/sim/trace_sink.h) that writes the Chrome trace-event JSON
// format through core::ChromeTraceWriter (core/chrome_trace.h), as `lockstep simulate --trace`.
//
// Layout: one process per unit kind (MEM, VXM, SXM, MXM), one thread per instruction queue that
// has instructions, named by its queue name ("mem.w12", "mxm.e1.lw"), ordered by position on the
// chip. Each instruction is one complete event ("ph": "X") spanning its Repeat (from its first
// issue to one cycle after its last), named by its mnemonic, with args: index, cycle, repeat,
// stride, delay, streams, addr. A counter track ("ph": "C", "streams in use") on process 0
// ("chip") gives the streams in use per direction: the number of distinct eastward and westward
// streams written in each window of `kStreamSampleCycles` cycles. The run ends with an instant
// "end of run (N cycles)". otherData: system, description, clock_hz.
// Timestamps are microseconds at the chip clock; args.cycle keeps the exact cycle. Events stream
// to the file as they come and stop at `max_events` (core/chrome_trace.h says how).
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>

#include "core/chrome_trace.h"
#include "lpu/sim/trace_sink.h"

namespace lockstep::lpu {

// Records one run (one JSON document); a second begin_run is a lockstep::Error.
class ChipChromeTrace : public TraceSink {
 public:
  static constexpr std::uint64_t kDefaultMaxEvents = core::ChromeTraceWriter::kDefaultMaxEvents;

  // Writes to `path` (lockstep::Error if it cannot be opened).
  explicit ChipChromeTrace(const std::string& path, std::uint64_t max_events = kDefaultMaxEvents);
  // Writes to `out`, which must outlive the trace.
  explicit ChipChromeTrace(std::ostream& out, std::uint64_t max_events = kDefaultMaxEvents);
  ~ChipChromeTrace() override;  // closes the JSON document if end_run was not called

  void begin_run(const ChipConfig& chip, const Floorplan& floorplan,
                 const Program& program) override;
  void instruction(int queue, int index, const Instruction& instruction, int delay) override;
  void streams_in_use(std::uint64_t cycle, int east, int west) override;
  void end_run(std::uint64_t cycles) override;

  std::uint64_t events_written() const { return writer_ ? writer_->events_written() : 0; }

 private:
  std::ofstream file_;
  std::ostream* out_;
  std::uint64_t max_events_;
  std::unique_ptr<core::ChromeTraceWriter> writer_;  // from begin_run on (it needs the clock)
  const Floorplan* floorplan_ = nullptr;
};

}  // namespace lockstep::lpu
