// lockstep run [MODEL] -p TEXT: generate text, streamed as it is produced, then the speeds.
#include <cstdio>
#include <fmt/core.h>
#include <fstream>
#include <span>
#include <sstream>

#include "cli/chat_format_choice.h"
#include "cli/command_registry.h"
#include "cli/generation_options.h"
#include "cli/model_argument.h"
#include "cli/target_option.h"
#include "core/error.h"
#include "runtime/prompt_builder.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/streaming_decoder.h"

namespace lockstep::cli {
namespace {

struct RunArgs {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  std::string system;
  std::string chat_template;
  bool chat = false;
  bool ignore_eos = false;
  bool parse_special = false;
  bool quiet = false;
  std::int64_t n = 128;
  std::int64_t ctx = 0;
  runtime::GenerationOptions options;
  TargetOptions target;
};

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open prompt file '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

tokenizer::ChatFormat chat_format(const RunArgs& a, const model::Model& model) {
  const auto chosen = choose_chat_format(a.chat_template, model);
  if (!chosen)
    fail("{} has no chat template lockstep recognises; choose one with --chat-template "
         "(llama2, llama3, chatml, mistral)",
         model.source);
  return *chosen;
}

void run(RunArgs& a) {
  auto model = open_model(a.model, a.quiet);
  const auto& tok = *model->tokenizer;
  std::string prompt = a.prompt_file.empty() ? a.prompt : read_text_file(a.prompt_file);

  // Without --chat the chat format is never used.
  const runtime::PromptBuilder prompts(tok, a.chat ? chat_format(a, *model) : tokenizer::ChatFormat::ChatML);
  runtime::PromptText text;
  if (a.chat) {
    std::vector<runtime::ChatMessage> messages;
    if (!a.system.empty()) messages.push_back({"system", a.system});
    messages.push_back({"user", prompt});
    text = prompts.chat(messages);
    // The template's markup makes control tokens; the messages are text unless --parse-special.
    if (a.parse_special) text.literal.clear();
  } else {
    text = prompts.plain(prompt, a.parse_special);
  }
  const std::vector<std::int32_t> tokens = prompts.encode(text);

  runtime::LpuBackend* lpu = nullptr;
  auto backend = make_backend(a.target, model, choose_context(a.ctx, model->config.n_ctx_train), &lpu);
  a.options.max_new_tokens = a.n;
  a.options.stop_at_end_of_generation = !a.ignore_eos;

  if (!a.chat) fmt::print("{}", a.prompt_file.empty() ? a.prompt : prompt);
  std::fflush(stdout);
  tokenizer::StreamingDecoder decoder(tok);
  auto stats = runtime::generate(*backend, tokens, a.options, [&](std::int32_t id) {
    fmt::print("{}", decoder.push(id));
    std::fflush(stdout);
    return true;
  });
  fmt::print("{}\n", decoder.finish());
  std::fflush(stdout);
  if (!a.quiet) fmt::print(stderr, "\n{}\n", describe_generation(stats));
  if (!a.quiet && lpu) fmt::print(stderr, "{} (wall clock above: the simulator)\n", describe_simulated(*lpu));
}

void add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "generate text from a prompt, streamed as it is produced");
  add_model_argument(*cmd, args->model);
  auto* prompt = cmd->add_option("-p,--prompt", args->prompt, "prompt text");
  cmd->add_option("-f,--file", args->prompt_file, "read the prompt from a file")->excludes(prompt);
  cmd->add_option("-n,--n-predict", args->n, "maximum tokens to generate")->capture_default_str();
  cmd->add_option("--ctx", args->ctx, "context length in tokens (default: min(trained, 2048))");
  cmd->add_flag("--chat", args->chat, "wrap the prompt in the model's chat template");
  cmd->add_option("--system", args->system, "system message for --chat");
  cmd->add_option("--chat-template", args->chat_template,
                  "override the chat format: llama2, llama3, chatml, mistral");
  cmd->add_flag("--ignore-eos", args->ignore_eos, "keep generating after an end-of-text token");
  cmd->add_flag("--parse-special", args->parse_special,
                "turn special-token text such as <|im_start|> in the prompt (with --chat: in "
                "the messages) into its token");
  cmd->add_flag("-q,--quiet", args->quiet, "print only the generated text");
  add_sampling_options(*cmd, args->options.sampling);
  add_target_options(*cmd, args->target);
  cmd->callback([args] { run(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(10, add_run_command);

}  // namespace lockstep::cli
