// lockstep logits [MODEL] (-p TEXT | --tokens 1,2,3) -o FILE.npy: float32 logits of every prompt
// position, computed as one batch at positions 0..n-1 (as the llama.cpp fixtures were).
#include <fmt/core.h>
#include <sstream>

#include "cli/command_registry.h"
#include "cli/model_argument.h"
#include "core/error.h"
#include "core/npy.h"
#include "cli/target_option.h"
#include "runtime/backend.h"

namespace lockstep::cli {
namespace {

TargetOptions oracle_target() {
  TargetOptions t;
  t.target = "ref";
  return t;
}

struct LogitsArgs {
  std::string model;
  std::string prompt;
  std::string token_list;
  std::string output;
  bool no_bos = false;
  TargetOptions target = oracle_target();  // the oracle unless asked otherwise
};

std::vector<std::int32_t> parse_token_list(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      fail("--tokens: '{}' is not an integer token id", item);
    }
    if (used != item.size() || v < 0 || v > INT32_MAX)
      fail("--tokens: '{}' is not a valid token id", item);
    ids.push_back(static_cast<std::int32_t>(v));
  }
  if (ids.empty()) fail("--tokens is empty");
  return ids;
}

void logits(const LogitsArgs& a) {
  std::vector<std::int32_t> tokens;
  if (!a.token_list.empty()) tokens = parse_token_list(a.token_list);  // before the slow part
  auto model = open_model(a.model);
  if (a.token_list.empty()) tokens = model->tokenizer->encode(a.prompt, !a.no_bos, false);
  if (tokens.empty()) fail("the prompt gives no tokens");
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (n > model->config.n_ctx_train)
    fail("{} tokens exceed the model's context of {} tokens", n, model->config.n_ctx_train);
  runtime::LpuBackend* lpu = nullptr;
  auto backend = make_backend(a.target, model, n, &lpu);
  std::vector<float> out(static_cast<std::size_t>(n * model->config.n_vocab));  // [n][n_vocab]
  backend->forward(tokens, 0, out, /*all_logits=*/true);
  write_npy_f32(a.output, out,
                {static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(model->config.n_vocab)});
  fmt::print(stderr, "wrote {} [{} tokens x {} vocab] float32\n", a.output, n, model->config.n_vocab);
}

void add_logits_command(CLI::App& app) {
  auto args = std::make_shared<LogitsArgs>();
  auto* cmd = app.add_subcommand("logits", "write the logits of every prompt position as .npy");
  add_model_argument(*cmd, args->model);
  auto* p = cmd->add_option("-p,--prompt", args->prompt, "prompt text");
  auto* t = cmd->add_option("--tokens", args->token_list, "comma-separated token ids, e.g. 1,2,3");
  p->excludes(t);
  cmd->add_option("-o,--output", args->output, "output .npy file, float32 [n_tokens, n_vocab]")
      ->required();
  add_target_options(*cmd, args->target);
  cmd->add_flag("--no-bos", args->no_bos, "do not add BOS to -p text");
  cmd->callback([args] {
    if (args->prompt.empty() && args->token_list.empty()) fail("give -p TEXT or --tokens IDS");
    logits(*args);
  });
}

}  // namespace

LOCKSTEP_COMMAND(30, add_logits_command);

}  // namespace lockstep::cli
