// `lockstep timeline` as a user runs it: the embedded model on 2 stages x 2 chips of groq-node,
// drawn as an SVG and a Perfetto trace; and its refusals, one sentence each.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/run_command.h"

namespace lockstep {
namespace {

using testing::run_lockstep;

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TimelineCommand, DrawsEveryChipOfASmallSystem) {
  const auto dir = std::filesystem::temp_directory_path() / "lockstep_timeline_test";
  std::filesystem::create_directories(dir);
  const auto svg = dir / "token.svg", json = dir / "token.json";
  auto r = run_lockstep({"timeline", "--system", "groq-node", "--stages", "2",
                         "--tensor-parallel", "2", "--ctx", "128", "--bin", "64", "-o",
                         svg.string(), "--trace", json.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("recorded    4 chips"), std::string::npos) << r.out;
  const std::string picture = slurp(svg);
  EXPECT_TRUE(picture.ends_with("</svg>\n"));
  std::size_t rows = 0;
  for (std::size_t at = picture.find("class=\"chip\""); at != std::string::npos;
       at = picture.find("class=\"chip\"", at + 1))
    ++rows;
  EXPECT_EQ(rows, 4u);
  EXPECT_NE(slurp(json).find("(stage 0 rank 0)\""), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(TimelineCommand, BadInputIsOneSentence) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"timeline", "--system", "lpu-v1", "-o", "x.svg"},
           {"timeline", "--system", "groq-node"},
           {"timeline", "--system", "groq-node", "--bin", "-3", "-o", "x.svg"}}) {
    auto r = run_lockstep(args);
    EXPECT_NE(r.exit_code, 0) << args[2];
    EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace lockstep
