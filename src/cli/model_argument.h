// The MODEL argument shared by every command that runs a model.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "model/model.h"

namespace lockstep::cli {

// Adds an optional positional MODEL (a .gguf file or a Hugging Face directory; default: the
// embedded model) bound to `target`.
void add_model_argument(CLI::App& command, std::string& target);

// Loads MODEL, saying on stderr what was loaded and how long it took.
std::shared_ptr<const model::Model> open_model(const std::string& model_argument, bool quiet = false);

}  // namespace lockstep::cli
