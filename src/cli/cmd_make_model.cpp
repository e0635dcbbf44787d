// lockstep make-model --shape NAME --type TYPE --seed N -o FILE.gguf: a GGUF file with the
// architecture of a catalog shape (configs/models) and seeded random weights.
// lockstep make-model --list: the catalog, with parameter counts.
#include <fmt/core.h>

#include <chrono>
#include <filesystem>

#include "cli/command_registry.h"
#include "core/error.h"
#include "model/catalog.h"
#include "model/synthetic_model.h"

namespace lockstep::cli {
namespace {

struct MakeModelArgs {
  std::string shape;
  std::string type = "f16";
  std::uint64_t seed = 1;
  std::string output;
  std::string name;
  unsigned threads = 0;
  bool list = false;
  bool quiet = false;
};

std::string parameter_text(std::uint64_t count) {
  const double p = static_cast<double>(count);
  return p >= 1e9 ? fmt::format("{:.2f} B", p / 1e9) : fmt::format("{:.2f} M", p / 1e6);
}

void list_catalog() {
  fmt::print("{:<16} {:<8} {:>9} {:>7} {:>6} {:>9} {:>9} {:>8} {:>9}  {}\n", "shape", "arch",
             "params", "n_embd", "layers", "heads/kv", "head_dim", "n_ff", "vocab", "tokenizer");
  for (const auto& name : model::catalog_shape_names()) {
    const auto s = model::load_catalog_entry(name);
    const auto& c = s.config;
    const std::string params = parameter_text(c.parameter_count());
    fmt::print("{:<16} {:<8} {:>9} {:>7} {:>6} {:>9} {:>9} {:>8} {:>9}  {}{}{}\n", name,
               c.architecture_name, params, c.n_embd, c.n_layer,
               fmt::format("{}/{}", c.n_head, c.n_head_kv), c.head_dim, c.n_ff, c.n_vocab,
               s.tokenizer, c.tied_embeddings ? ", tied" : "",
               c.rope_freq_factors.empty() ? "" : ", llama3 rope");
  }
}

void make_model(const MakeModelArgs& a) {
  if (a.list) {
    list_catalog();
    return;
  }
  if (a.shape.empty()) fail("make-model needs --shape NAME (see make-model --list)");
  if (a.output.empty()) fail("make-model needs -o FILE.gguf");
  const auto type = numerics::parse_tensor_type(a.type);
  if (!type)
    fail("--type '{}' is not a supported type (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, mxfp4)", a.type);
  const auto shape = model::load_catalog_entry(a.shape);

  model::SyntheticModelOptions options;
  options.matrix_type = *type;
  options.seed = a.seed;
  options.name = a.name;
  options.threads = a.threads;
  if (!a.quiet) options.log = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };

  const auto start = std::chrono::steady_clock::now();
  if (!a.quiet)
    fmt::print(stderr, "make-model: {} ({}, {} parameters) as {}, seed {} -> {}\n", shape.name,
               shape.config.architecture_name, parameter_text(shape.config.parameter_count()),
               numerics::tensor_type_info(*type).name, a.seed, a.output);
  model::write_synthetic_model(shape, options, a.output);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(a.output, ec);
  if (!a.quiet)
    fmt::print(stderr, "make-model: wrote {} ({:.1f} MiB) in {:.1f} s\n", a.output,
               ec ? 0.0 : bytes / 1048576.0, seconds);
}

void add_make_model_command(CLI::App& app) {
  auto args = std::make_shared<MakeModelArgs>();
  auto* cmd = app.add_subcommand(
      "make-model", "write a GGUF model of a catalog shape with seeded random weights");
  cmd->add_option("--shape", args->shape, "catalog shape (see --list) or a shape .yaml file");
  cmd->add_option("--type", args->type, "matrix type: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, mxfp4 (mxfp4: the reference and LPU backends only, for now)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "random seed")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "output file (.gguf)");
  cmd->add_option("--name", args->name, "general.name (default: lockstep-synthetic-SHAPE)");
  cmd->add_option("--threads", args->threads, "worker threads (0: one per core)")
      ->capture_default_str();
  cmd->add_flag("--list", args->list, "list the catalog shapes and their parameter counts");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress on stderr");
  cmd->callback([args] { make_model(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(70, add_make_model_command);

}  // namespace lockstep::cli
