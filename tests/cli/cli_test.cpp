// The CLI as a user meets it: help on every command, one-sentence errors with a non-zero exit,
// and the embedded model working with no arguments.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/npy.h"
#include "support/paths.h"
#include "support/run_command.h"

namespace lockstep {
namespace {

using testing::run_lockstep;

// An error is one line, the last on stderr, starting "error: ", and exit status 1 (never a
// crash). Progress lines such as "loaded ..." may come before it.
void expect_one_sentence_error(const testing::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ASSERT_FALSE(r.err.empty());
  ASSERT_EQ(r.err.back(), '\n') << r.err;
  const std::size_t start = r.err.rfind('\n', r.err.size() - 2);
  const std::string last = r.err.substr(start == std::string::npos ? 0 : start + 1);
  EXPECT_EQ(last.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(last.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
  EXPECT_EQ(r.err.find("error: "), r.err.size() - last.size()) << "more than one error: " << r.err;
}

TEST(Cli, HelpListsEveryCommand) {
  auto r = run_lockstep({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"demo", "run", "serve", "perplexity", "logits", "tokenize", "info", "make-model", "compile", "simulate", "plan"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
}

TEST(Cli, EveryCommandHasHelp) {
  for (const char* cmd : {"demo", "run", "serve", "perplexity", "logits", "tokenize", "info", "make-model", "compile", "simulate", "plan"}) {
    auto r = run_lockstep({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd;
  }
}

TEST(Cli, MissingModelFileIsOneSentence) {
  expect_one_sentence_error(run_lockstep({"info", "/nonexistent/model.gguf"}),
                            "/nonexistent/model.gguf");
}

TEST(Cli, TruncatedModelNamesTheFile) {
  const auto dir = testing::scratch_dir("cli_truncated");
  const std::string path = dir + "/truncated.gguf";
  {
    std::ofstream f(path, std::ios::binary);
    f.write("GGUF\x03\x00\x00\x00\x05\x00", 10);
  }
  expect_one_sentence_error(run_lockstep({"info", path}), path);
}

TEST(Cli, NotAModelFile) {
  const auto dir = testing::scratch_dir("cli_not_a_model");
  const std::string path = dir + "/notes.gguf";
  {
    std::ofstream f(path);
    f << "these are not weights\n";
  }
  expect_one_sentence_error(run_lockstep({"run", path, "-p", "hi"}), "not a GGUF file");
}

TEST(Cli, PromptLongerThanContextSaysBothCounts) {
  std::string prompt;
  for (int i = 0; i < 50; ++i) prompt += "And it came to pass ";
  auto r = run_lockstep({"run", "-p", prompt, "--ctx", "16", "-n", "4"});
  expect_one_sentence_error(r, "context holds 16");
}

TEST(Cli, EmbeddedModelRunsWithoutArguments) {
  auto r = run_lockstep({"run", "-p", "In the beginning", "-n", "8", "--seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("In the beginning", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("time to first token"), std::string::npos) << r.err;
}

TEST(Cli, SameSeedSameTextAcrossProcesses) {
  std::vector<std::string> args{"run", "-p", "And God said", "-n", "24", "--seed", "9", "-q"};
  auto a = run_lockstep(args);
  auto b = run_lockstep(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST(Cli, LogitsWritesNpyOfEveryPosition) {
  const auto dir = testing::scratch_dir("cli_logits");
  const std::string out = dir + "/logits.npy";
  auto r = run_lockstep({"logits", "--tokens", "1,40,50,60", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = read_npy_f32(out);
  ASSERT_EQ(a.shape.size(), 2u);
  EXPECT_EQ(a.shape[0], 4u);
  EXPECT_GT(a.shape[1], 255u);
}

TEST(Cli, BadTokenListIsOneSentence) {
  const auto dir = testing::scratch_dir("cli_bad_tokens");
  expect_one_sentence_error(run_lockstep({"logits", "--tokens", "1,x,3", "-o", dir + "/l.npy"}),
                            "--tokens");
  expect_one_sentence_error(
      run_lockstep({"logits", "--tokens", "1,99999999", "-o", dir + "/l.npy"}), "out of range");
}

TEST(Cli, TokenizeShowsPieces) {
  auto r = run_lockstep({"tokenize", "-p", "In the beginning"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tokens"), std::string::npos);
}

}  // namespace
}  // namespace lockstep
