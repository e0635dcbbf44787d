// Subcommands register themselves: each src/cli/cmd_*.cpp defines a function that adds its
// subcommand to the CLI11 app, and a LOCKSTEP_COMMAND line. The CLI sources are linked straight
// into the executable, so every registration runs before main().
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace lockstep::cli {

// `add` creates the subcommand on `app` and sets its callback. `order` sorts `--help`.
struct CommandEntry {
  int order;
  std::function<void(CLI::App& app)> add;
};

std::vector<CommandEntry>& command_registry();
bool register_command(int order, std::function<void(CLI::App& app)> add);

}  // namespace lockstep::cli

#define LOCKSTEP_CONCAT_INNER(a, b) a##b
#define LOCKSTEP_CONCAT(a, b) LOCKSTEP_CONCAT_INNER(a, b)
#define LOCKSTEP_COMMAND(order, add_function)                                    \
  static const bool LOCKSTEP_CONCAT(lockstep_command_registered_, __LINE__) = \
      ::lockstep::cli::register_command(order, add_function)
