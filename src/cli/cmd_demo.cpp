// lockstep demo: what a newcomer sees first. Loads the embedded KJV model and generates from a
// few prompts with a fixed seed, streaming the text and printing the speeds.
#include <algorithm>
#include <cstdio>
#include <fmt/core.h>

#include "cli/command_registry.h"
#include "cli/generation_options.h"
#include "cli/model_argument.h"
#include "cli/system_compile.h"
#include "cli/target_option.h"
#include "compiler/pipeline_speed.h"
#include "lpu/arch/system_config.h"
#include "compiler/system_lowering.h"
#include "model/catalog.h"
#include "plan/deployment_plan.h"
#include "plan/lpu_speed.h"
#include "runtime/cpu_backend.h"
#include "runtime/lpu_backend.h"
#include "tokenizer/streaming_decoder.h"

namespace lockstep::cli {
namespace {

struct DemoArgs {
  std::string model;
  std::int64_t n = 64;
  bool system_prediction = true;
  runtime::GenerationOptions options;
};

// Streams one prompt's continuation to stdout; returns the speeds and the text generated.
std::pair<runtime::GenerationStats, std::string> stream(runtime::Backend& backend,
                                                        const model::Model& model,
                                                        const char* prompt,
                                                        const runtime::GenerationOptions& options) {
  auto tokens = model.tokenizer->encode(prompt, true, false);
  fmt::print("\n> {}", prompt);
  std::fflush(stdout);
  tokenizer::StreamingDecoder decoder(*model.tokenizer);
  std::string text;
  auto stats = runtime::generate(backend, tokens, options, [&](std::int32_t id) {
    const std::string piece = decoder.push(id);
    text += piece;
    fmt::print("{}", piece);
    std::fflush(stdout);
    return true;
  });
  const std::string tail = decoder.finish();
  text += tail;
  fmt::print("{}\n", tail);
  return {stats, text};
}

// What that speed costs beside GPUs (`lockstep plan`, the report's Figure 11 terms): for each
// option its fastest point per user and its cheapest point per token.
void print_cost_summary() {
  plan::PlanRequest request;
  request.model = "llama-2-70b";
  request.context = 1024;
  request.lpu_chips.clear();
  const plan::DeploymentPlan p = plan::make_plan(request, {});
  fmt::print("\nWhat it costs (lockstep plan --model llama-2-70b --ctx 1024; Figure 11's finance terms;\n"
             "GPUs from an analytic model, docs/plan.md):\n");
  fmt::print("  {:<40} {:<22} {:>10} {:>13} {:>9}\n", "option", "point", "tok/s/user", "USD/M tokens",
             "J/token");
  for (const auto& option : p.options) {
    if (option.points.empty()) continue;
    const auto fastest = std::max_element(option.points.begin(), option.points.end(), [](auto& a, auto& b) {
      return a.tokens_per_s_per_user < b.tokens_per_s_per_user;
    });
    const auto cheapest = std::min_element(option.points.begin(), option.points.end(), [](auto& a, auto& b) {
      return a.usd_per_million_tokens < b.usd_per_million_tokens;
    });
    for (const auto& [what, pt] : {std::pair{"fastest", *fastest}, std::pair{"cheapest", *cheapest}})
      fmt::print("  {:<40} {:<22} {:>10.0f} {:>13.2f} {:>9.2f}\n", option.name,
                 option.kind == "lpu" ? fmt::format("{}: B={}, G={}", what, pt.batch, pt.groups)
                                      : fmt::format("{}: B={}", what, pt.batch),
                 pt.tokens_per_s_per_user, pt.usd_per_million_tokens,
                 pt.joules_per_token);
  }
}

// Llama-2-70B (the shape, no weights) compiled onto the 576 chips of groq-576, beside the
// published speed of FACTS.md's calibration point.
void predict_llama_2_70b() {
  fmt::print("\nLlama-2-70B (int8 weights, no weight file needed) compiled onto 576 simulated chips\n"
             "(groq-576: 8 racks in one synchronous domain), every chip-to-chip transfer scheduled:\n");
  const lpu::SystemConfig system = lpu::load_system("groq-576");
  const model::ModelConfig config = model::load_catalog_shape("llama-2-70b");
  constexpr std::int64_t kContext = 1024;  // the calibration run: 550 prompt + 150 output tokens
  const compiler::SystemDecode decode(config, nullptr, system, {compiler::WeightPrecision::Int8, kContext}, {},
                                 scheduling_progress("  ", false));
  const compiler::SystemSpeed speed = compiler::system_speed(decode, system, 550);
  // Kept for `lockstep plan --model llama-2-70b --ctx 1024`, which then need not compile again.
  plan::record_lpu_prediction(decode, config, "llama-2-70b", system, compiler::WeightPrecision::Int8,
                              kContext, 1);
  fmt::print("  [{} stages x {} chips, {:.2f} ms per token on the system clock]\n", decode.stages().size(),
             decode.tensor_parallel(), 1e3 * speed.token_seconds);
  fmt::print("  [predicted: {:.0f} tokens/s per user, time to first token {:.0f} ms for 550 prompt tokens]\n",
             speed.tokens_per_s, 1e3 * speed.ttft_seconds);
  fmt::print("  [published: ~257 tokens/s per user (Jan 2024, independent measurement; FACTS.md);\n"
             "   docs/validation.md compares every published figure]\n");
  print_cost_summary();
}

void demo(DemoArgs& a) {
  fmt::print("lockstep demo: a tiny Llama-architecture model trained on the King James Bible,\n"
             "run by lockstep's CPU backend (a static kernel plan on pinned threads). Same seed,\n"
             "same text.\n\n");
  auto model = open_model(a.model);
  a.options.max_new_tokens = a.n;
  const std::int64_t ctx = choose_context(0, model->config.n_ctx_train);
  const char* prompts[] = {"In the beginning", "And the LORD said unto Moses,",
                           "Blessed are the"};
  std::string first_text;
  for (const char* prompt : prompts) {
    auto backend = runtime::make_cpu_backend(model, ctx, runtime::CpuBackendOptions{});
    auto [stats, text] = stream(*backend, *model, prompt, a.options);
    if (first_text.empty()) first_text = text;
    fmt::print("  [{}]\n", describe_generation(stats));
  }

  fmt::print("\nThe same model compiled for a simulated Groq-class chip (lpu-v1), every token run\n"
             "on the cycle-exact simulator:\n");
  auto lpu = runtime::make_lpu_backend(model, lpu::load_system("lpu-v1"), ctx);
  auto [stats, text] = stream(*lpu, *model, prompts[0], a.options);
  fmt::print("  [{}]\n  [the same text as the CPU's: {}]\n  [simulator wall clock: {}]\n",
             describe_simulated(*lpu), text == first_text ? "yes" : "no",
             describe_generation(stats));
  if (a.system_prediction) predict_llama_2_70b();
}

void add_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  args->options.sampling.seed = 7;
  auto* cmd = app.add_subcommand("demo", "generate text with the embedded model (start here)");
  add_model_argument(*cmd, args->model);
  cmd->add_option("-n,--n-predict", args->n, "tokens to generate per prompt")->capture_default_str();
  add_sampling_options(*cmd, args->options.sampling);
  cmd->add_flag("!--no-system", args->system_prediction,
                "skip the last part: Llama-2-70B compiled onto 576 chips (about a minute)");
  cmd->callback([args] { demo(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(0, add_demo_command);

}  // namespace lockstep::cli
