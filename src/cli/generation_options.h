// Flags shared by the commands that generate text (run, demo): sampling, length, context.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "runtime/generator.h"

namespace lockstep::cli {

// Adds --temperature, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, --seed,
// --greedy to `command`, bound to `params`.
void add_sampling_options(CLI::App& command, runtime::SamplingParams& params);

// Context length to use: `requested` if > 0, else min(trained context, 2048).
std::int64_t choose_context(std::int64_t requested, std::int64_t trained);

// "12 tokens in 3.1 ms (3871 tokens/s)" style summary for stderr.
std::string describe_generation(const runtime::GenerationStats& stats);

}  // namespace lockstep::cli
