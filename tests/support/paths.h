// Where tests find things: ../shared (fixtures from llama.cpp; may be absent on a fresh
// machine, then those tests skip), the lockstep binary, and a scratch folder in the build tree.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace lockstep::testing {

inline std::string shared_dir() { return LOCKSTEP_SHARED_DIR; }
inline std::string fixtures_dir() { return shared_dir() + "/fixtures"; }
inline bool have_fixtures() {
  return std::filesystem::exists(fixtures_dir() + "/manifest.json");
}
inline std::string lockstep_binary() { return LOCKSTEP_BINARY; }

// A fresh, empty scratch folder: build/.../test-tmp/<Suite.Test>/<name>. The running test's name
// is part of the path because ctest runs tests as parallel processes: two tests asking for the
// same `name` must not remove each other's files.
inline std::string scratch_dir(const std::string& name) {
  std::string test = "no-test";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    test = std::string(info->test_suite_name()) + "." + info->name();
    for (char& ch : test)
      if (ch == '/') ch = '_';
  }
  const std::filesystem::path p = std::filesystem::path(LOCKSTEP_TEST_TMP) / test / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace lockstep::testing

#define LOCKSTEP_SKIP_WITHOUT_FIXTURES()                                                    \
  do {                                                                                      \
    if (!::lockstep::testing::have_fixtures())                                              \
      GTEST_SKIP() << "../shared/fixtures is missing: the comparisons against llama.cpp " \
                      "are skipped";                                                        \
  } while (0)
