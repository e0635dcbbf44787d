#include "core/chrome_trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace lockstep::core {

std::string json_quote(std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x80 && c != '"' && c != '\\';
  });
  if (plain) return "\"" + std::string(text) + "\"";
  // Invalid UTF-8 (a name from a file) becomes U+FFFD rather than an exception.
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TraceArgs& TraceArgs::add_raw(std::string_view key, std::string_view json_value) {
  if (!body_.empty()) body_ += ',';
  body_ += '"';
  body_ += key;
  body_ += "\":";
  body_ += json_value;
  return *this;
}

TraceArgs& TraceArgs::add(std::string_view key, std::string_view value) {
  return add_raw(key, json_quote(value));
}

TraceArgs& TraceArgs::add(std::string_view key, double value) {
  return add_raw(key, std::isfinite(value) ? fmt::format("{}", value) : std::string("null"));
}

ChromeTraceWriter::ChromeTraceWriter(std::ostream& out, double clock_hz, std::uint64_t max_events,
                                     const TraceArgs& other_data)
    : out_(&out), clock_hz_(clock_hz > 0 ? clock_hz : 1e9), max_events_(max_events) {
  *out_ << "{\"displayTimeUnit\":\"ns\",\"otherData\":" << other_data.json()
        << ",\"traceEvents\":[\n";
}

ChromeTraceWriter::~ChromeTraceWriter() {
  try {
    close();
  } catch (...) {
  }
}

std::string ChromeTraceWriter::microseconds(std::int64_t cycles) const {
  return fmt::format("{:.4f}", static_cast<double>(cycles) / clock_hz_ * 1e6);
}

bool ChromeTraceWriter::admit(std::int64_t cycle) {
  last_cycle_ = cycle;
  if (!open_ || truncated_) return false;
  if (events_ + 1 >= max_events_) {
    truncated_ = true;
    write(fmt::format(R"({{"name":"trace truncated after {} events","ph":"i","s":"g","pid":0,)"
                      R"("tid":0,"ts":{}}})",
                      events_, microseconds(cycle)));
    return false;
  }
  return true;
}

void ChromeTraceWriter::write(const std::string& json) {
  if (events_ > 0) *out_ << ",\n";
  *out_ << json;
  ++events_;
}

void ChromeTraceWriter::process(int pid, std::string_view name, std::int64_t sort_index) {
  if (!admit(last_cycle_)) return;
  write(fmt::format(R"({{"name":"process_name","ph":"M","pid":{},"args":{{"name":{}}}}})", pid,
                    json_quote(name)));
  if (!admit(last_cycle_)) return;
  write(fmt::format(R"({{"name":"process_sort_index","ph":"M","pid":{},"args":{{"sort_index":{}}}}})",
                    pid, sort_index));
}

void ChromeTraceWriter::thread(int pid, int tid, std::string_view name, std::int64_t sort_index) {
  if (!admit(last_cycle_)) return;
  write(fmt::format(R"({{"name":"thread_name","ph":"M","pid":{},"tid":{},"args":{{"name":{}}}}})",
                    pid, tid, json_quote(name)));
  if (!admit(last_cycle_)) return;
  write(fmt::format(
      R"({{"name":"thread_sort_index","ph":"M","pid":{},"tid":{},"args":{{"sort_index":{}}}}})",
      pid, tid, sort_index));
}

void ChromeTraceWriter::complete(int pid, int tid, std::string_view name, std::int64_t start_cycle,
                                 std::int64_t duration_cycles, const TraceArgs& args) {
  if (!admit(start_cycle)) return;
  write(fmt::format(R"({{"name":{},"ph":"X","pid":{},"tid":{},"ts":{},"dur":{},"args":{}}})",
                    json_quote(name), pid, tid, microseconds(start_cycle),
                    microseconds(duration_cycles), args.json()));
}

void ChromeTraceWriter::instant(int pid, int tid, std::string_view name, std::int64_t cycle) {
  if (!admit(cycle)) return;
  write(fmt::format(R"({{"name":{},"ph":"i","s":"g","pid":{},"tid":{},"ts":{}}})",
                    json_quote(name), pid, tid, microseconds(cycle)));
}

void ChromeTraceWriter::counter(int pid, std::string_view name, std::int64_t cycle,
                                const TraceArgs& values) {
  if (!admit(cycle)) return;
  write(fmt::format(R"({{"name":{},"ph":"C","pid":{},"ts":{},"args":{}}})", json_quote(name), pid,
                    microseconds(cycle), values.json()));
}

void ChromeTraceWriter::close() {
  if (!open_) return;
  open_ = false;
  *out_ << "\n]}\n";
  out_->flush();
}

}  // namespace lockstep::core
