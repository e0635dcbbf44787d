#include "runtime/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>

namespace lockstep::runtime {

namespace {

// Latencies in seconds, from 1 ms (one fast decode step) to a minute (a long generation): the
// buckets Prometheus client libraries use, extended at the top.
std::vector<double> latency_bounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

// A whole request can take minutes (thousands of tokens on the FP32 reference pass).
std::vector<double> duration_bounds() {
  std::vector<double> bounds = latency_bounds();
  bounds.push_back(120);
  bounds.push_back(300);
  return bounds;
}

// A number as the text format writes it: Go's ParseFloat reads fmt's shortest round-trip form
// ("0.001", "60", "1e-07"); infinities and NaN have their own spellings.
std::string number(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", x);
}

void append_header(std::string& out, const std::string& name, const std::string& help,
                   const char* type) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void append_counter(std::string& out, const std::string& name, const std::string& help,
                    std::uint64_t value) {
  append_header(out, name, help, "counter");
  fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
}

void append_gauge(std::string& out, const std::string& name, const std::string& help,
                  std::int64_t value) {
  append_header(out, name, help, "gauge");
  fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {
  // +Inf is implied (a given one would be written twice); NaN bounds mean nothing.
  std::erase_if(upper_bounds_, [](double b) { return !std::isfinite(b); });
  std::sort(upper_bounds_.begin(), upper_bounds_.end());
  upper_bounds_.erase(std::unique(upper_bounds_.begin(), upper_bounds_.end()), upper_bounds_.end());
  counts_.assign(upper_bounds_.size() + 1, 0);
}

void Histogram::observe(double value) {
  // A NaN (a clock bug in the caller) would make the sum NaN for good: it is not recorded.
  if (std::isnan(value)) return;
  // Prometheus buckets are "less than or equal": a value on a bound counts in that bucket.
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::vector<std::uint64_t> counts;
  double sum;
  std::uint64_t count;
  {
    std::lock_guard lock(mutex_);
    counts = counts_;
    sum = sum_;
    count = count_;
  }
  std::string out;
  append_header(out, name, help, "histogram");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < upper_bounds_.size(); ++i) {
    cumulative += counts[i];
    fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name,
                   number(upper_bounds_[i]), cumulative);
  }
  fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n", name, count);
  fmt::format_to(std::back_inserter(out), "{}_sum {}\n{}_count {}\n", name, number(sum), name,
                 count);
  return out;
}

std::uint64_t Histogram::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

double Histogram::sum() const {
  std::lock_guard lock(mutex_);
  return sum_;
}

Metrics::Metrics()
    : time_to_first_token(latency_bounds()),
      inter_token_latency(latency_bounds()),
      request_duration(duration_bounds()),
      decode_batch_size({1, 2, 4, 8, 16, 32, 64}) {}

void Metrics::count_response(int http_status) {
  std::lock_guard lock(mutex_);
  ++responses_[http_status];
}

void Metrics::count_closed_connection(const std::string& reason) {
  std::lock_guard lock(mutex_);
  ++closed_connections_[reason];
}

std::string Metrics::render() const {
  std::string out;
  out += time_to_first_token.render("lockstep_time_to_first_token_seconds",
                                    "Time from request arrival to its first generated token.");
  out += inter_token_latency.render("lockstep_inter_token_latency_seconds",
                                    "Time between consecutive generated tokens of one sequence.");
  out += request_duration.render("lockstep_request_duration_seconds",
                                 "Time from request arrival to its last generated token.");
  append_counter(out, "lockstep_prompt_tokens_total", "Prompt tokens of finished requests.",
                 prompt_tokens.load());
  append_counter(out, "lockstep_generation_tokens_total", "Tokens generated.",
                 generation_tokens.load());
  append_counter(out, "lockstep_prompt_cache_hits_total",
                 "Requests that reused a cached prompt prefix.", prompt_cache_hits.load());
  append_counter(out, "lockstep_prompt_cache_hit_tokens_total",
                 "Prompt tokens taken from the prompt cache.", prompt_cache_hit_tokens.load());
  append_header(out, "lockstep_requests_total", "Responses by HTTP status.", "counter");
  {
    std::lock_guard lock(mutex_);
    for (const auto& [status, count] : responses_)
      fmt::format_to(std::back_inserter(out), "lockstep_requests_total{{status=\"{}\"}} {}\n",
                     status, count);
  }
  append_gauge(out, "lockstep_queue_depth", "Requests waiting for a sequence slot.",
               queue_depth.load());
  append_gauge(out, "lockstep_active_sequences", "Sequences being prefilled or decoded.",
               active_sequences.load());
  out += decode_batch_size.render("lockstep_decode_batch_size", "Sequences per decode step.");
  append_gauge(out, "lockstep_http_open_connections", "Client connections open.",
               open_connections.load());
  append_header(out, "lockstep_http_connections_closed_total",
                "Connections the server closed (timeout, evicted, refused) or whose client left "
                "during a request (client_gone).",
                "counter");
  {
    std::lock_guard lock(mutex_);
    for (const auto& [reason, count] : closed_connections_)
      fmt::format_to(std::back_inserter(out),
                     "lockstep_http_connections_closed_total{{reason=\"{}\"}} {}\n", reason, count);
  }
  return out;
}

}  // namespace lockstep::runtime
