#include "runtime/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace lockstep::runtime {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Histogram h({0.125, 1, 10});  // binary fractions: the sum is exact
  for (double v : {0.0625, 0.125, 0.5, 1.0, 2.0, 20.0, 30.0}) h.observe(v);
  EXPECT_EQ(h.count(), 7u);
  EXPECT_EQ(h.sum(), 53.6875);
  const std::string text = h.render("x_seconds", "Some latency.");
  EXPECT_EQ(text,
            "# HELP x_seconds Some latency.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.125\"} 2\n"   // a value on a bound counts in that bucket
            "x_seconds_bucket{le=\"1\"} 4\n"
            "x_seconds_bucket{le=\"10\"} 5\n"
            "x_seconds_bucket{le=\"+Inf\"} 7\n"
            "x_seconds_sum 53.6875\n"
            "x_seconds_count 7\n");
}

TEST(Metrics, EmptyHistogram) {
  Histogram h({1, 2});
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.sum(), 0.0);
  const std::string text = h.render("e", "h");
  EXPECT_TRUE(has_line(text, "e_bucket{le=\"1\"} 0"));
  EXPECT_TRUE(has_line(text, "e_bucket{le=\"+Inf\"} 0"));
  EXPECT_TRUE(has_line(text, "e_sum 0"));
  EXPECT_TRUE(has_line(text, "e_count 0"));
}

TEST(Metrics, HistogramEdgeValues) {
  Histogram h({2, 1, 1, std::numeric_limits<double>::infinity()});  // sorted, deduplicated, +Inf implied
  h.observe(-1);
  h.observe(std::numeric_limits<double>::infinity());
  h.observe(std::numeric_limits<double>::quiet_NaN());  // not recorded
  EXPECT_EQ(h.count(), 2u);
  const std::string text = h.render("v", "h");
  EXPECT_TRUE(has_line(text, "v_bucket{le=\"1\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "v_bucket{le=\"2\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "v_bucket{le=\"+Inf\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "v_sum +Inf")) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2 + 3 + 2);
}

TEST(Metrics, RenderHasEveryFamily) {
  Metrics m;
  m.time_to_first_token.observe(0.003);
  m.inter_token_latency.observe(0.02);
  m.inter_token_latency.observe(0.0005);
  m.request_duration.observe(200);
  m.decode_batch_size.observe(3);
  m.prompt_tokens += 12;
  m.generation_tokens += 34;
  m.prompt_cache_hits += 1;
  m.prompt_cache_hit_tokens += 8;
  m.queue_depth = 2;
  m.active_sequences = 5;
  m.count_response(200);
  m.count_response(200);
  m.count_response(400);
  m.count_response(503);
  const std::string text = m.render();
  for (const char* line : {
           "# TYPE lockstep_time_to_first_token_seconds histogram",
           "lockstep_time_to_first_token_seconds_bucket{le=\"0.0025\"} 0",
           "lockstep_time_to_first_token_seconds_bucket{le=\"0.005\"} 1",
           "lockstep_time_to_first_token_seconds_bucket{le=\"60\"} 1",
           "lockstep_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1",
           "lockstep_time_to_first_token_seconds_sum 0.003",
           "lockstep_time_to_first_token_seconds_count 1",
           "# TYPE lockstep_inter_token_latency_seconds histogram",
           "lockstep_inter_token_latency_seconds_bucket{le=\"0.001\"} 1",
           "lockstep_inter_token_latency_seconds_bucket{le=\"0.01\"} 1",
           "lockstep_inter_token_latency_seconds_bucket{le=\"0.025\"} 2",
           "lockstep_inter_token_latency_seconds_count 2",
           "lockstep_request_duration_seconds_bucket{le=\"120\"} 0",
           "lockstep_request_duration_seconds_bucket{le=\"300\"} 1",
           "lockstep_request_duration_seconds_sum 200",
           "# TYPE lockstep_prompt_tokens_total counter",
           "lockstep_prompt_tokens_total 12",
           "lockstep_generation_tokens_total 34",
           "lockstep_prompt_cache_hits_total 1",
           "lockstep_prompt_cache_hit_tokens_total 8",
           "# TYPE lockstep_requests_total counter",
           "lockstep_requests_total{status=\"200\"} 2",
           "lockstep_requests_total{status=\"400\"} 1",
           "lockstep_requests_total{status=\"503\"} 1",
           "# TYPE lockstep_queue_depth gauge",
           "lockstep_queue_depth 2",
           "# TYPE lockstep_active_sequences gauge",
           "lockstep_active_sequences 5",
           "# TYPE lockstep_decode_batch_size histogram",
           "lockstep_decode_batch_size_bucket{le=\"2\"} 0",
           "lockstep_decode_batch_size_bucket{le=\"4\"} 1",
           "lockstep_decode_batch_size_bucket{le=\"64\"} 1",
           "lockstep_decode_batch_size_count 1",
       })
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
}

// Every line is a comment of the two kinds the format defines or a sample
// `name{labels} value`, every family has HELP and TYPE before its samples, and bucket counts
// never fall as le rises.
TEST(Metrics, RenderIsValidExposition) {
  Metrics m;
  for (int i = 0; i < 100; ++i) {
    m.time_to_first_token.observe(i * 0.01);
    m.decode_batch_size.observe(i % 70);
  }
  m.count_response(429);
  const std::string text = m.render();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const std::regex help(R"re(# HELP (lockstep_[a-z_]+) .+)re");
  const std::regex type(R"re(# TYPE (lockstep_[a-z_]+) (counter|gauge|histogram))re");
  const std::regex sample(
      R"re((lockstep_[a-z_]+)(\{[a-z]+="[^"]*"\})? ([-+]?(Inf|[0-9.e+-]+)))re");
  const std::regex bucket(R"re((lockstep_[a-z_]+)_bucket\{le="([^"]+)"\} ([0-9]+))re");
  std::istringstream in(text);
  std::string family, family_type;
  std::string last_bucket_family;
  long long last_bucket = -1;
  int families = 0;
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_match(line, match, help)) {
      family = match[1];
      family_type.clear();
      ++families;
    } else if (std::regex_match(line, match, type)) {
      EXPECT_EQ(match[1], family) << line;
      family_type = match[2];
      if (family_type == "counter") {
        EXPECT_TRUE(family.ends_with("_total")) << family;
      }
    } else if (std::regex_match(line, match, sample)) {
      const std::string name = match[1];
      EXPECT_FALSE(family_type.empty()) << line;
      EXPECT_TRUE(name == family || (family_type == "histogram" &&
                                     (name == family + "_bucket" || name == family + "_sum" ||
                                      name == family + "_count")))
          << line;
      if (std::regex_match(line, match, bucket)) {
        const long long n = std::stoll(match[3]);
        if (last_bucket_family == family) {
          EXPECT_GE(n, last_bucket) << line;
        }
        last_bucket_family = family;
        last_bucket = n;
      }
    } else {
      ADD_FAILURE() << "not a line of the text format: " << line;
    }
  }
  EXPECT_EQ(families, 13);  // 11 for serving, 2 for connections (http_server.h)
}

TEST(Metrics, ClosedConnectionsCountByReason) {
  Metrics m;
  m.count_closed_connection("evicted");
  m.count_closed_connection("evicted");
  m.count_closed_connection("timeout");
  m.open_connections.store(3);
  const std::string text = m.render();
  EXPECT_NE(text.find("lockstep_http_connections_closed_total{reason=\"evicted\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lockstep_http_connections_closed_total{reason=\"timeout\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lockstep_http_open_connections 3\n"), std::string::npos);
}

TEST(Metrics, RecordsFromManyThreads) {
  Metrics m;
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  std::thread renderer([&] {
    while (!stop.load()) (void)m.render();
  });
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kPerThread; ++i) {
        m.inter_token_latency.observe(0.002 * (t + 1));  // 0.002, 0.004, 0.006, 0.008
        m.decode_batch_size.observe(1);
        m.generation_tokens += 1;
        m.count_response(i % 2 ? 200 : 500);
      }
    });
  for (auto& t : threads) t.join();
  stop = true;
  renderer.join();
  const std::uint64_t total = std::uint64_t{kThreads} * kPerThread;
  EXPECT_EQ(m.inter_token_latency.count(), total);
  EXPECT_NEAR(m.inter_token_latency.sum(), kPerThread * (0.002 + 0.004 + 0.006 + 0.008), 1e-6);
  EXPECT_EQ(m.decode_batch_size.count(), total);
  EXPECT_EQ(m.generation_tokens.load(), total);
  const std::string text = m.render();
  EXPECT_TRUE(has_line(text, "lockstep_inter_token_latency_seconds_bucket{le=\"0.0025\"} 20000"));
  EXPECT_TRUE(has_line(text, "lockstep_inter_token_latency_seconds_bucket{le=\"0.005\"} 40000"));
  EXPECT_TRUE(has_line(text, "lockstep_inter_token_latency_seconds_bucket{le=\"0.01\"} 80000"));
  EXPECT_TRUE(has_line(text, "lockstep_inter_token_latency_seconds_count 80000"));
  EXPECT_TRUE(has_line(text, "lockstep_decode_batch_size_bucket{le=\"1\"} 80000"));
  EXPECT_TRUE(has_line(text, "lockstep_requests_total{status=\"200\"} 40000"));
  EXPECT_TRUE(has_line(text, "lockstep_requests_total{status=\"500\"} 40000"));
}

}  // namespace
}  // namespace lockstep::runtime
