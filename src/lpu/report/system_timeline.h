// Pictures of a system's activity (system_activity.h): which chip is busy when.
//
// write_system_timeline_svg: an SVG heat map that opens in any browser. One row per chip, in
// pipeline order (stage by stage, rank by rank), stages separated by faint lines and labelled
// every few stages; x is system time in microseconds, with an axis. Each bin of a row is coloured
// by the unit kind the chip kept busiest in it, as a share of that kind's capacity (its queues x
// the bin's cycles; MXM: the busiest of its load, compute and emit queue kinds; links: the
// busiest link's occupancy by the chip's Sends), darker = busier; light grey = running but
// issuing nothing; white = not running. Written with core::SvgDocument (core/svg.h).
//
// write_system_chrome_trace: Chrome trace-event JSON for Perfetto (ui.perfetto.dev). One process
// per chip, named "chip N (stage s rank r)", in pipeline order; one thread per unit kind with a
// complete event per busy bin (args: busy, the share of the kind's capacity; iterations); and a
// "c2c sends" thread: with at most kTraceSendDetailChips chips one event per Send (its link
// occupancy, args: link), else one event per bin and link with Sends (args: link, sends), so that
// a 576-chip token stays a few tens of MB. Timestamps: microseconds on the system clock.
// otherData: clock_hz, chips. Written through core::ChromeTraceWriter (core/chrome_trace.h), so
// past its default event cap the trace ends with an instant saying it was cut.
#pragma once

#include <ostream>
#include <span>
#include <string>

#include "lpu/report/system_activity.h"
#include "lpu/program/system_program.h"

namespace lockstep::lpu {

inline constexpr std::size_t kTraceSendDetailChips = 64;

// title: the first line ("llama-2-70b int8 on groq-576"); the writer adds a second with the run's
// length, the chips and stages, and the bin width. stages: compiler::SystemDecode::stages(), or empty.
void write_system_timeline_svg(const SystemActivity& activity, const SystemProgram& program,
                               std::span<const StageInfo> stages, const std::string& title,
                               std::ostream& out);

void write_system_chrome_trace(const SystemActivity& activity, const SystemProgram& program,
                               std::span<const StageInfo> stages, std::ostream& out);

}  // namespace lockstep::lpu
