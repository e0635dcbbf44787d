// `lockstep bench` as a user runs it: the embedded model on the reference pass, a few tokens;
// the table names every figure with its unit, --json parses with sane values, and bad
// arguments are refused in one sentence. Nothing asserts on speed.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "support/run_command.h"

namespace lockstep {
namespace {

using testing::run_lockstep;

TEST(BenchCommand, PrintsEveryFigureWithItsUnit) {
  // --bandwidth skips the measurement (a 1 GiB buffer: seconds on a busy machine); the
  // measurement itself is tested in tests/cpu/read_bandwidth_test.cpp.
  auto r = run_lockstep({"bench", "--target", "ref", "-p", "12", "-n", "6", "-r", "2",
                         "--warmup", "0", "--bandwidth", "12.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* field :
       {"model ", "type mix ", "target ", "ref, 1 thread", "read bandwidth  12.50 GB/s",
        "bytes / token ", " MB", "prompt ", "decode ", " tok/s", "inter-token ", "P50 ", "P99 ",
        "max ", " ms", "roofline ", "achieved ", " % of the roofline"})
    EXPECT_NE(r.out.find(field), std::string::npos) << field << "\n" << r.out;
  EXPECT_NE(r.err.find("repetition 2/2"), std::string::npos) << r.err;
}

TEST(BenchCommand, JsonHasEveryFigureAndTheParameters) {
  auto r = run_lockstep({"bench", "--target", "ref", "-p", "10", "-n", "5", "-r", "3",
                         "--warmup", "1", "--bandwidth", "20", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NE(j["model"]["source"].get<std::string>().find("embedded"), std::string::npos);
  EXPECT_EQ(j["parameters"]["target"], "ref");
  EXPECT_EQ(j["parameters"]["prompt_tokens"], 10);
  EXPECT_EQ(j["parameters"]["decode_tokens"], 5);
  EXPECT_EQ(j["parameters"]["repetitions"], 3);
  EXPECT_EQ(j["parameters"]["warmup"], 1);
  EXPECT_EQ(j["parameters"]["threads"], 1);
  EXPECT_DOUBLE_EQ(j["bandwidth"]["gb_per_second"].get<double>(), 20.0);
  EXPECT_EQ(j["results"]["repetitions"].size(), 3u);
  const auto& res = j["results"];
  for (const char* key : {"prompt_tokens_per_second", "decode_tokens_per_second", "itl_p50_ms",
                          "itl_p99_ms", "itl_max_ms"}) {
    const double v = res[key].get<double>();
    EXPECT_TRUE(std::isfinite(v) && v > 0) << key << " = " << v;
  }
  EXPECT_LE(res["itl_p50_ms"].get<double>(), res["itl_max_ms"].get<double>());
  const auto& roof = j["roofline"];
  EXPECT_EQ(roof["position"], 12);  // 10 + (5 - 1) / 2
  EXPECT_GT(roof["weight_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(roof["bytes_per_token"].get<std::uint64_t>(),
            roof["weight_bytes"].get<std::uint64_t>() + roof["kv_bytes"].get<std::uint64_t>());
  EXPECT_NEAR(roof["tokens_per_second"].get<double>(),
              20e9 / roof["bytes_per_token"].get<double>(), 1e-6);
  const double achieved = roof["achieved_fraction"].get<double>();
  EXPECT_TRUE(std::isfinite(achieved) && achieved > 0);
}

TEST(BenchCommand, BadArgumentsAreOneSentence) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {{"bench", "--target", "ref", "-p", "250", "-n", "10"}, "needs 260 positions"},
           {{"bench", "--target", "ref", "-p", "0"}, "-p must be at least 1"},
           {{"bench", "--target", "ref", "-p", "8", "-n", "0"}, "-n must be at least 1"},
           {{"bench", "--target", "ref", "-p", "8", "-n", "2", "-r", "0"}, "-r must be at least 1"},
           {{"bench", "--target", "nowhere", "-p", "8", "-n", "2"}, "--target 'nowhere'"}}) {
    auto r = run_lockstep(c.args);
    EXPECT_NE(r.exit_code, 0) << c.says;
    EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
}  // namespace lockstep
