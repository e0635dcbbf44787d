// Runs the lockstep binary as a user would and captures what it prints.
#pragma once

#include <string>
#include <vector>

namespace lockstep::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `lockstep <args...>` with no stdin; arguments are passed as they are (no shell).
CommandResult run_lockstep(const std::vector<std::string>& args);

}  // namespace lockstep::testing
