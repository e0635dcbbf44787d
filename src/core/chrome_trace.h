// A streaming writer of the Chrome trace-event JSON format, the timeline Perfetto
// (ui.perfetto.dev) and chrome://tracing open. The one place lockstep writes that format: the
// chip trace (lpu/report/chip_chrome_trace.h) and the system trace (lpu/report/system_timeline.h)
// both go through it.
//
// The document: {"displayTimeUnit":"ns","otherData":{...},"traceEvents":[ event, ... ]}, one
// event per line, written to the stream as it comes (nothing is kept in memory). Events:
//   process / thread   metadata ("ph":"M"): a name and a sort index, two events each
//   complete ("X")     a span on one thread, with args
//   instant ("i")      a global mark ("s":"g")
//   counter ("C")      the values of one counter track at one time (its args)
// Times are given in cycles at the writer's clock and written as microseconds
// (cycle / clock_hz * 1e6) with 4 decimals (0.1 ns); durations likewise.
//
// The event cap: at most `max_events` events are written, metadata included. When an event
// would be the last one the cap allows, an instant named "trace truncated after N events" (N:
// the events before it) is written instead, at the time of the event it replaces, and every
// later event is dropped; so a huge run cannot produce a multi-gigabyte file, and the file says
// it was cut.
//
// Numbers in args: integers as they are, doubles in the shortest text that reads back the same
// (non-finite ones as null). Strings are JSON-escaped. Output is therefore deterministic.
#pragma once

#include <concepts>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace lockstep::core {

// The args of one event (or the document's otherData): a JSON object built key by key, in the
// order given. Keys are written as given (they must not need escaping); values are escaped.
class TraceArgs {
 public:
  TraceArgs& add(std::string_view key, std::string_view value);
  TraceArgs& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  TraceArgs& add(std::string_view key, double value);
  template <std::integral T>
  TraceArgs& add(std::string_view key, T value) {
    return add_raw(key, std::to_string(value));
  }

  bool empty() const { return body_.empty(); }
  // The object as JSON text: "{}" when empty.
  std::string json() const { return "{" + body_ + "}"; }

 private:
  TraceArgs& add_raw(std::string_view key, std::string_view json_value);
  std::string body_;  // "\"k\":v,\"k2\":v2"
};

// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

class ChromeTraceWriter {
 public:
  static constexpr std::uint64_t kDefaultMaxEvents = 2'000'000;

  // Writes the document's head to `out` (which must outlive the writer). clock_hz: the clock
  // that turns cycles into microseconds (> 0, else 1 GHz). other_data: the otherData object.
  ChromeTraceWriter(std::ostream& out, double clock_hz,
                    std::uint64_t max_events = kDefaultMaxEvents,
                    const TraceArgs& other_data = {});
  ~ChromeTraceWriter();  // closes the document if close() was not called
  ChromeTraceWriter(const ChromeTraceWriter&) = delete;
  ChromeTraceWriter& operator=(const ChromeTraceWriter&) = delete;

  // Names a process and orders it among processes (lower first).
  void process(int pid, std::string_view name, std::int64_t sort_index);
  // Names a thread of a process and orders it among that process's threads.
  void thread(int pid, int tid, std::string_view name, std::int64_t sort_index);
  // A span [start, start + duration) in cycles on one thread.
  void complete(int pid, int tid, std::string_view name, std::int64_t start_cycle,
                std::int64_t duration_cycles, const TraceArgs& args = {});
  // A global instant at one cycle.
  void instant(int pid, int tid, std::string_view name, std::int64_t cycle);
  // The values of counter track `name` of a process from `cycle` on (args: series -> value).
  void counter(int pid, std::string_view name, std::int64_t cycle, const TraceArgs& values);

  // Ends the document ("]}" and a newline) and flushes; later events are dropped.
  void close();

  std::uint64_t events_written() const { return events_; }
  bool truncated() const { return truncated_; }

 private:
  // Counts one event at `cycle`; false (after writing the truncation mark once) past the cap.
  bool admit(std::int64_t cycle);
  void write(const std::string& json);
  std::string microseconds(std::int64_t cycles) const;

  std::ostream* out_;
  double clock_hz_;
  std::uint64_t max_events_;
  std::uint64_t events_ = 0;
  std::int64_t last_cycle_ = 0;  // of the latest event offered (for the truncation mark)
  bool truncated_ = false;
  bool open_ = true;  // "traceEvents" array started and not yet closed
};

}  // namespace lockstep::core
