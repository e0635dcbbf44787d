// Where tests find things: ../shared (fixtures from llama.cpp; may be absent on a fresh
// machine, then those tests skip), the lockstep binary, and a scratch folder in the build tree.
#pragma once

#include <filesystem>
#include <string>

namespace lockstep::testing {

inline std::string shared_dir() { return LOCKSTEP_SHARED_DIR; }
inline std::string fixtures_dir() { return shared_dir() + "/fixtures"; }
inline bool have_fixtures() {
  return std::filesystem::exists(fixtures_dir() + "/manifest.json");
}
inline std::string lockstep_binary() { return LOCKSTEP_BINARY; }

// A fresh, empty scratch folder for one test: build/.../test-tmp/<name>.
inline std::string scratch_dir(const std::string& name) {
  const std::filesystem::path p = std::filesystem::path(LOCKSTEP_TEST_TMP) / name;
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
