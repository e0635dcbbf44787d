// lockstep convert MODEL -o FILE.gguf [--type TYPE]: writes a model (a Hugging Face directory or
// a GGUF file) as a GGUF file whose matrices are all of one type; Llama-family Hugging Face
// weights get llama.cpp's q/k row permutation (see model/gguf_export.h).
#include <fmt/core.h>

#include <chrono>
#include <filesystem>

#include "cli/command_registry.h"
#include "cli/model_argument.h"
#include "core/error.h"
#include "model/gguf_export.h"

namespace lockstep::cli {
namespace {

struct ConvertArgs {
  std::string model;
  std::string output;
  std::string type = "f16";
  bool quiet = false;
};

void convert(const ConvertArgs& a) {
  const auto type = numerics::parse_tensor_type(a.type);
  if (!type)
    fail("--type '{}' is not a supported type (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, mxfp4)", a.type);
  std::error_code ec;
  if (!a.model.empty() && std::filesystem::exists(a.output, ec) &&
      std::filesystem::equivalent(a.model, a.output, ec))
    fail("convert: the output '{}' is the input model; choose another file", a.output);
  auto m = open_model(a.model, a.quiet);
  const auto start = std::chrono::steady_clock::now();
  std::function<void(const std::string&)> log;
  if (!a.quiet) log = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  model::write_model_as_gguf(*m, m->tokenizer->vocabulary(), *type, a.output, log);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto bytes = std::filesystem::file_size(a.output, ec);
  if (!a.quiet)
    fmt::print(stderr, "convert: wrote {} ({}, {:.1f} MiB) in {:.1f} s\n", a.output,
               numerics::tensor_type_info(*type).name, ec ? 0.0 : bytes / 1048576.0, seconds);
}

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand("convert", "write a model as GGUF with one matrix type");
  add_model_argument(*cmd, args->model);
  cmd->add_option("-o,--output", args->output, "output file (.gguf)")->required();
  cmd->add_option("--type", args->type, "matrix type: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, mxfp4 (mxfp4: the reference and LPU backends only, for now)")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", args->quiet, "no progress on stderr");
  cmd->callback([args] { convert(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(75, add_convert_command);

}  // namespace lockstep::cli
