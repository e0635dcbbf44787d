// The server's counters, gauges and histograms, written in Prometheus' text exposition format
// (version 0.0.4) for GET /metrics. Thread-safe: request threads and the engine record while
// another thread renders.
//
// Families (all names prefixed "lockstep_"):
//   time_to_first_token_seconds      histogram  request arrival -> first generated token
//   inter_token_latency_seconds      histogram  between consecutive tokens of one sequence
//   request_duration_seconds         histogram  arrival -> last token
//   prompt_tokens_total              counter    prompt tokens of finished requests
//   generation_tokens_total          counter    tokens generated
//   prompt_cache_hits_total          counter    requests that reused a cached prefix
//   prompt_cache_hit_tokens_total    counter    prompt tokens taken from the cache
//   requests_total{status="200"...}  counter    responses by HTTP status
//   queue_depth                      gauge      requests waiting for a sequence slot
//   active_sequences                 gauge      sequences being prefilled or decoded
//   decode_batch_size                histogram  sequences per decode step
//   http_open_connections            gauge      client sockets open
//   http_connections_closed_total{reason="timeout"|"evicted"|"refused"|"client_gone"}
//                                    counter    connections the server ended (or that ended a
//                                               request early), by why
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace lockstep::runtime {

// A cumulative histogram with fixed upper bounds (ascending, +Inf implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // "# HELP", "# TYPE" then name_bucket{le="..."}, name_sum, name_count lines.
  std::string render(const std::string& name, const std::string& help) const;
  std::uint64_t count() const;
  double sum() const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> upper_bounds_;
  std::vector<std::uint64_t> counts_;  // [bounds + 1] per bucket (not cumulative), last = +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  Histogram time_to_first_token;   // s
  Histogram inter_token_latency;   // s
  Histogram request_duration;      // s
  Histogram decode_batch_size;     // sequences
  std::atomic<std::uint64_t> prompt_tokens{0}, generation_tokens{0};
  std::atomic<std::uint64_t> prompt_cache_hits{0}, prompt_cache_hit_tokens{0};
  std::atomic<std::int64_t> queue_depth{0}, active_sequences{0};
  std::atomic<std::int64_t> open_connections{0};

  void count_response(int http_status);
  void count_closed_connection(const std::string& reason);
  // The whole exposition, every family with # HELP and # TYPE.
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::map<int, std::uint64_t> responses_;  // HTTP status -> count
  std::map<std::string, std::uint64_t> closed_connections_;  // reason -> count
};

}  // namespace lockstep::runtime
