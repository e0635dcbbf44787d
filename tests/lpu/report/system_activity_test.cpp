// The activity of a system run (system_activity.h) and its pictures (system_timeline.h), on the
// embedded model split over 2 stages x 2 chips of groq-node: every chip's bins span its program
// shifted by its start cycle, hold exactly the iterations Chip::run reports per unit kind, and
// the SVG and the Chrome trace have one row / one process per chip.
#include "compiler/system_lowering.h"
#include "lpu/report/system_activity.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <numeric>
#include <regex>
#include <set>
#include <sstream>

#include "lpu/report/system_timeline.h"
#include "model/model_loader.h"

namespace lockstep::lpu {
namespace {

class AcceptingPort : public LinkPort {
 public:
  void send(int, std::int64_t, const std::uint8_t*) override {}
  const std::uint8_t* receive(int, std::int64_t) override { return nullptr; }
};

class SystemActivityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    system_ = new SystemConfig(load_system("groq-node"));
    const auto m = model::load_model("");
    decode_ = new compiler::SystemDecode(m->config, nullptr, *system_,
                               {compiler::WeightPrecision::Int8, 128}, compiler::PartitionRequest{2, 2});
  }
  static void TearDownTestSuite() {
    delete decode_;
    delete system_;
  }
  static const SystemProgram& program() { return decode_->program(); }

  static SystemConfig* system_;
  static compiler::SystemDecode* decode_;
};
SystemConfig* SystemActivityTest::system_ = nullptr;
compiler::SystemDecode* SystemActivityTest::decode_ = nullptr;

TEST_F(SystemActivityTest, EveryChipSpansItsProgramFromItsStartCycle) {
  const SystemActivity a = record_system_activity(program(), *system_, 97);
  ASSERT_EQ(a.chips.size(), 4u);
  ASSERT_EQ(a.programs.size(), program().programs.size());
  EXPECT_EQ(a.bin_cycles, 97);
  EXPECT_EQ(a.cycles, decode_->cycles());
  std::set<std::int64_t> starts;
  for (std::size_t i = 0; i < a.chips.size(); ++i) {
    const ChipAssignment& assignment = program().chips[i];
    const ChipActivity& c = a.chips[i];
    EXPECT_EQ(c.chip, assignment.chip);
    EXPECT_EQ(c.start, assignment.start_cycle);
    EXPECT_EQ(c.end, assignment.start_cycle +
                         static_cast<std::int64_t>(a.programs[static_cast<std::size_t>(assignment.program)].cycles));
    EXPECT_EQ(c.first_bin, c.start / 97);
    EXPECT_EQ(c.first_bin + c.bins() - 1, (c.end - 1) / 97);
    starts.insert(c.start);
    for (const LinkSend& s : c.sends) {
      EXPECT_GE(s.cycle, c.start);
      EXPECT_LT(s.cycle, c.end);
      EXPECT_NE(s.link, kUnmappedChannel);
    }
  }
  EXPECT_EQ(starts.size(), 2u) << "the second stage starts later than the first";
  EXPECT_GT(a.send_fraction(a.chips[0], a.chips[0].sends.back().cycle / 97), 0.0);
}

TEST_F(SystemActivityTest, BusyIterationsEqualWhatTheChipRunReports) {
  for (const std::int64_t bin : {std::int64_t{1}, std::int64_t{250}, std::int64_t{0}}) {
    const SystemActivity a = record_system_activity(program(), *system_, bin);
    for (std::size_t i = 0; i < a.chips.size(); ++i) {
      const int p = program().chips[i].program;
      Chip chip(system_->chip);
      AcceptingPort port;
      const SimulationResult want =
          chip.run(program().programs[static_cast<std::size_t>(p)], SimulationMode::Timing, nullptr, &port);
      for (int u = 0; u < kUnitKindCount; ++u) {
        const auto& bins = a.chips[i].busy[static_cast<std::size_t>(u)];
        EXPECT_EQ(std::accumulate(bins.begin(), bins.end(), std::uint64_t{0}),
                  want.unit_iterations[static_cast<std::size_t>(u)])
            << "chip " << i << " unit " << unit_name(static_cast<Unit>(u)) << " bin " << bin;
      }
    }
  }
}

// Every opened tag is closed, in order (no comments, CDATA or '>' inside attributes here).
bool balanced(const std::string& xml) {
  std::vector<std::string> open;
  for (std::size_t at = xml.find('<'); at != std::string::npos; at = xml.find('<', at + 1)) {
    const std::size_t end = xml.find('>', at);
    if (end == std::string::npos) return false;
    const std::string tag = xml.substr(at + 1, end - at - 1);
    if (tag.starts_with("?")) continue;
    const bool closing = tag.starts_with("/");
    const bool self_closing = tag.ends_with("/");
    const std::string name = tag.substr(closing ? 1 : 0, tag.find_first_of(" /", closing ? 1 : 0) - (closing ? 1 : 0));
    if (closing) {
      if (open.empty() || open.back() != name) return false;
      open.pop_back();
    } else if (!self_closing) {
      open.push_back(name);
    }
  }
  return open.empty();
}

TEST_F(SystemActivityTest, TheSvgHasOneRowPerChip) {
  const SystemActivity a = record_system_activity(program(), *system_);
  std::ostringstream out;
  write_system_timeline_svg(a, program(), decode_->stages(), "embedded <model> & groq-node", out);
  const std::string svg = out.str();
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_TRUE(balanced(svg));
  EXPECT_NE(svg.find("embedded &lt;model&gt; &amp; groq-node"), std::string::npos);
  const std::string open = "<g class=\"chip\" data-chip=\"";
  std::set<int> chips;
  for (std::size_t at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
    chips.insert(std::stoi(svg.substr(at + open.size())));
    const std::string row = svg.substr(at, svg.find("</g>", at) - at);
    EXPECT_NE(row.find("<rect "), std::string::npos) << row;
  }
  EXPECT_EQ(chips.size(), a.chips.size());
  EXPECT_NE(svg.find("stage 1"), std::string::npos);
  EXPECT_NE(svg.find("system time (us)"), std::string::npos);
  EXPECT_NE(svg.find("MXM (matrix units)"), std::string::npos);
}

TEST_F(SystemActivityTest, TheChromeTraceHasOneProcessPerChip) {
  const SystemActivity a = record_system_activity(program(), *system_);
  std::ostringstream out;
  write_system_chrome_trace(a, program(), decode_->stages(), out);
  const nlohmann::json trace = nlohmann::json::parse(out.str());
  std::set<int> processes, with_slices, with_sends;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("ph") == "M" && e.at("name") == "process_name") {
      processes.insert(e.at("pid").get<int>());
      EXPECT_TRUE(std::regex_match(e.at("args").at("name").get<std::string>(),
                                   std::regex("chip \\d+ \\(stage [01] rank [01]\\)")));
    }
    if (e.at("ph") == "X") {
      (e.at("tid").get<int>() == kUnitKindCount ? with_sends : with_slices).insert(e.at("pid").get<int>());
      EXPECT_GE(e.at("dur").get<double>(), 0.0);
    }
  }
  EXPECT_EQ(processes.size(), a.chips.size());
  EXPECT_EQ(with_slices, processes);
  EXPECT_FALSE(with_sends.empty());
}

}  // namespace
}  // namespace lockstep::lpu
