#include "cli/command_registry.h"

namespace lockstep::cli {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> entries;
  return entries;
}

bool register_command(int order, std::function<void(CLI::App& app)> add) {
  command_registry().push_back({order, std::move(add)});
  return true;
}

}  // namespace lockstep::cli
