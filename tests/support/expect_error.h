// Asserting on lockstep::Error messages: bad input must give one sentence that names the file
// and says what is wrong.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace lockstep::testing {

// Runs `action`, which must throw lockstep::Error whose message contains `file` and each of
// `words`.
template <typename Action>
void expect_error_naming(Action&& action, const std::string& file,
                         const std::vector<std::string>& words) {
  try {
    action();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file), std::string::npos) << message;
    for (const auto& w : words)
      EXPECT_NE(message.find(w), std::string::npos) << "'" << w << "' not in: " << message;
  }
}

}  // namespace lockstep::testing
