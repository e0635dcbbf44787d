// lockstep perplexity [MODEL] -f FILE [--ctx N]: perplexity over a text file, sliding windows.
#include <fmt/core.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "cli/command_registry.h"
#include "cli/model_argument.h"
#include "cli/target_option.h"
#include "core/error.h"
#include "runtime/perplexity.h"

namespace lockstep::cli {
namespace {

struct PerplexityArgs {
  std::string model;
  std::string file;
  std::int64_t ctx = 0;
  std::int64_t stride = 0;
  std::int64_t max_tokens = 0;
  TargetOptions target;
};

void perplexity(const PerplexityArgs& a) {
  std::ifstream in(a.file, std::ios::binary);
  if (!in) fail("cannot open text file '{}'", a.file);
  std::stringstream ss;
  ss << in.rdbuf();
  auto model = open_model(a.model);
  auto tokens = model->tokenizer->encode(ss.str(), /*add_special=*/true, false);
  if (a.max_tokens > 0 && static_cast<std::int64_t>(tokens.size()) > a.max_tokens)
    tokens.resize(static_cast<std::size_t>(a.max_tokens));
  const std::int64_t window =
      a.ctx > 0 ? a.ctx : std::min<std::int64_t>(512, model->config.n_ctx_train);
  if (window > model->config.n_ctx_train)
    fail("--ctx {} exceeds the model's trained context of {} tokens", window,
         model->config.n_ctx_train);
  const std::int64_t stride = a.stride > 0 ? a.stride : window / 2;
  runtime::LpuBackend* lpu = nullptr;
  auto backend = make_backend(a.target, model, window, &lpu);
  fmt::print(stderr, "{} tokens, windows of {} advancing by {}\n", tokens.size(), window, stride);
  // On a terminal the progress line rewrites itself; in a log it is one line per tenth.
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  auto r = runtime::perplexity(*backend, tokens, window, stride,
                               [terminal](std::int64_t done, std::int64_t total) {
                                 if (terminal) {
                                   fmt::print(stderr, "\rwindow {}/{}", done, total);
                                   if (done == total) fmt::print(stderr, "\n");
                                 } else if (done == total || done % std::max<std::int64_t>(1, total / 10) == 0) {
                                   fmt::print(stderr, "window {}/{}\n", done, total);
                                 }
                               });
  fmt::print("perplexity {:.4f} ({:.4f} nats/token) over {} tokens, {} windows of {} (stride {}), "
             "{:.2f} s ({:.1f} tokens/s)\n",
             r.perplexity, r.mean_nll, r.scored_tokens, r.windows, window, stride, r.seconds,
             r.windows * static_cast<double>(window) / r.seconds);
}

void add_perplexity_command(CLI::App& app) {
  auto args = std::make_shared<PerplexityArgs>();
  auto* cmd = app.add_subcommand("perplexity", "perplexity of a model over a text file");
  add_model_argument(*cmd, args->model);
  cmd->add_option("-f,--file", args->file, "text file")->required();
  cmd->add_option("--ctx", args->ctx, "window length in tokens (default: min(512, trained))");
  cmd->add_option("--stride", args->stride, "tokens a window advances (default: ctx / 2)");
  cmd->add_option("--max-tokens", args->max_tokens, "score at most this many tokens of the file");
  add_target_options(*cmd, args->target);
  cmd->callback([args] { perplexity(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(20, add_perplexity_command);

}  // namespace lockstep::cli
