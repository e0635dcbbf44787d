// lockstep: one binary, one subcommand per job. Errors from any layer arrive here as
// lockstep::Error and leave as one sentence on stderr with a non-zero exit status.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fmt/core.h>

#include "cli/command_registry.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{
      "lockstep: deterministic, latency-first LLM inference.\n"
      "Runs Llama-family models (GGUF or Hugging Face safetensors) on the CPU, and compiles them\n"
      "for a simulated Groq-class LPU (compile, simulate, run --target lpu-sim). Every command\n"
      "that takes MODEL uses the embedded KJV model when MODEL is left out."};
  app.set_version_flag("--version", "lockstep 0.1.0");
  app.require_subcommand(1);
  auto& entries = lockstep::cli::command_registry();
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.order < b.order; });
  for (auto& entry : entries) entry.add(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const lockstep::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    fmt::print(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "internal error (please report): {}\n", e.what());
    return 2;
  }
  return 0;
}
