#include "cli/model_argument.h"

#include <chrono>
#include <fmt/core.h>

#include "model/model_loader.h"

namespace lockstep::cli {

void add_model_argument(CLI::App& command, std::string& target) {
  command.add_option("MODEL", target,
                     "model: a .gguf file or a Hugging Face directory (config.json, "
                     "*.safetensors, tokenizer.json); default: the embedded KJV model");
}

std::shared_ptr<const model::Model> open_model(const std::string& model_argument, bool quiet) {
  const auto start = std::chrono::steady_clock::now();
  auto m = model::load_model(model_argument);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!quiet) {
    const auto& c = m->config;
    fmt::print(stderr, "loaded {} ({} {}, {:.2f} M parameters, {} layers, {:.1f} MiB of weights) in {:.0f} ms\n",
               m->source, c.architecture_name, m->format, c.parameter_count() / 1e6, c.n_layer,
               m->weight_bytes() / 1048576.0, ms);
  }
  return m;
}

}  // namespace lockstep::cli
