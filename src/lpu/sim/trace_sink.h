// A timeline of a simulated run that a person can open in Perfetto (ui.perfetto.dev) or
// chrome://tracing: the Chrome trace-event JSON format ({"traceEvents": [...]}).
//
// Layout: one process per unit kind (MEM, VXM, SXM, MXM), one thread per instruction queue that
// has instructions, named by its queue name ("mem.w12", "mxm.e1.lw"), ordered by position on the
// chip. Each instruction
// is one complete event ("ph": "X") spanning its Repeat (from its first issue to one cycle after
// its last), named by its mnemonic, with args: cycle, repeat, stride, delay, streams. Two counter
// tracks ("ph": "C") give the streams in use per direction: the number of distinct eastward and
// westward streams written in each window of `kStreamSampleCycles` cycles.
// Timestamps are microseconds at the chip clock (cycle / clock_hz * 1e6); args.cycle keeps the
// exact cycle. The writer streams events to the file as they come (no document in memory) and
// stops after `max_events`, ending with one instant event saying so, so that a huge program
// cannot produce a multi-gigabyte file.
#pragma once

#include <cstdint>
#include <fstream>
#include <ostream>
#include <string>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program.h"
#include "lpu/arch/system_config.h"

namespace lockstep::lpu {

inline constexpr int kStreamSampleCycles = 64;

// What the simulator reports while it runs. Calls come in nondecreasing cycle order. A
// ChromeTraceWriter records one run (one JSON document); a second begin_run is an Error.
class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void begin_run(const ChipConfig& chip, const Floorplan& floorplan,
                         const Program& program) = 0;
  // An instruction issues its first iteration (cycle = instruction.cycle). delay: its
  // functional delay in cycles.
  virtual void instruction(int queue, int index, const Instruction& instruction, int delay) = 0;
  // Distinct streams written by iterations issued in [cycle, cycle + kStreamSampleCycles).
  virtual void streams_in_use(std::uint64_t cycle, int east, int west) = 0;
  // The run completed; cycles = its length.
  virtual void end_run(std::uint64_t cycles) = 0;
};

class ChromeTraceWriter : public TraceSink {
 public:
  static constexpr std::uint64_t kDefaultMaxEvents = 2'000'000;

  // Writes to `path` (lockstep::Error if it cannot be opened).
  explicit ChromeTraceWriter(const std::string& path, std::uint64_t max_events = kDefaultMaxEvents);
  // Writes to `out`, which must outlive the writer.
  explicit ChromeTraceWriter(std::ostream& out, std::uint64_t max_events = kDefaultMaxEvents);
  ~ChromeTraceWriter() override;  // closes the JSON document if end_run was not called

  void begin_run(const ChipConfig& chip, const Floorplan& floorplan,
                 const Program& program) override;
  void instruction(int queue, int index, const Instruction& instruction, int delay) override;
  void streams_in_use(std::uint64_t cycle, int east, int west) override;
  void end_run(std::uint64_t cycles) override;

  std::uint64_t events_written() const { return events_; }

 private:
  bool admit();  // counts one event; false once the limit is reached
  void event(const std::string& json);
  double microseconds(std::uint64_t cycle) const;
  void close();

  std::ofstream file_;
  std::ostream* out_;
  std::uint64_t max_events_;
  std::uint64_t events_ = 0;
  bool truncated_ = false;
  bool started_ = false;  // begin_run was called (one run per writer)
  bool open_ = false;     // "traceEvents" array started and not yet closed
  bool first_ = true;  // no event written yet (no comma)
  double clock_hz_ = 1e9;
  const Floorplan* floorplan_ = nullptr;
  std::uint64_t last_cycle_ = 0;
};

}  // namespace lockstep::lpu
