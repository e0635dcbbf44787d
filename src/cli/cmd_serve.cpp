// lockstep serve [MODEL]: an OpenAI-compatible HTTP server (serve/http_server.h) over the
// serving engine (runtime/engine.h). Runs until SIGINT or SIGTERM, which drain it: new requests get
// 503 while running ones finish (up to --drain-seconds); a second signal stops it at once.
#include <fmt/core.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <pthread.h>
#include <sys/resource.h>
#include <thread>

#include "cli/chat_format_choice.h"
#include "cli/command_registry.h"
#include "cli/generation_options.h"
#include "cli/model_argument.h"
#include "cli/target_option.h"
#include "core/error.h"
#include "graph/step_graph.h"
#include "runtime/engine.h"
#include "serve/http_server.h"
#include "runtime/metrics.h"
#include "runtime/prompt_builder.h"
#include "runtime/system_fingerprint.h"

namespace lockstep::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string model_id;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::int64_t ctx = 0;
  int max_sequences = 8;
  int max_queue = 64;
  double cache_mib = 1024;
  double itl_target_ms = 0;
  double max_body_mib = 4;
  int max_connections = 512;
  double request_timeout_s = 30;
  double idle_timeout_s = 30;
  double drain_seconds = 30;
  std::vector<std::string> cors;
  std::string api_key;
  std::string chat_template;
  TargetOptions target;
};

tokenizer::ChatFormat chat_format(const ServeArgs& a, const model::Model& model) {
  if (auto chosen = choose_chat_format(a.chat_template, model)) return *chosen;
  fmt::print(stderr,
             "{} has no chat template lockstep recognises: chat requests use ChatML "
             "(choose another with --chat-template llama2|llama3|chatml|mistral)\n",
             model.source);
  return tokenizer::ChatFormat::ChatML;
}

std::string default_model_id(const std::string& argument) {
  if (argument.empty()) return "lockstep-kjv";
  std::filesystem::path path(argument);
  if (path.filename().empty()) path = path.parent_path();  // "dir/"
  return path.extension() == ".gguf" ? path.stem().string() : path.filename().string();
}

void serve(ServeArgs& a) {
  if (a.max_sequences < 1) fail("--max-sequences must be at least 1, got {}", a.max_sequences);
  if (a.max_queue < 0) fail("--max-queue must be 0 or more, got {}", a.max_queue);
  if (!(a.cache_mib >= 0)) fail("--cache-mib must be 0 or more, got {}", a.cache_mib);
  if (!(a.max_body_mib > 0)) fail("--max-body-mib must be positive, got {}", a.max_body_mib);
  if (a.port < 0 || a.port > 65535) fail("--port must be in 0..65535 (0: any free port), got {}", a.port);
  if (a.max_connections < 1) fail("--max-connections must be at least 1, got {}", a.max_connections);
  for (const auto& [flag, value] : {std::pair{"--request-timeout", a.request_timeout_s},
                                    std::pair{"--idle-timeout", a.idle_timeout_s}})
    if (!(value > 0 && value <= 86400)) fail("{} must be in (0, 86400] seconds, got {}", flag, value);
  if (!(a.drain_seconds >= 0 && a.drain_seconds <= 86400))
    fail("--drain-seconds must be in [0, 86400], got {}", a.drain_seconds);

  // SIGINT / SIGTERM go to a thread of their own (blocked everywhere else, inherited by every
  // thread started from here on), which stops the server cleanly.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // internal: wakes the signal thread when the server stops
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto model = open_model(a.model);
  const auto& c = model->config;
  const std::int64_t ctx = choose_context(a.ctx, c.n_ctx_train);
  // KV slots: enough for the running sequences, and as many more as the prompt cache's memory
  // allows (each holds a whole context of fp16 keys and values: what a one-token step writes,
  // times the context).
  graph::WeightTypes fp16_cache;
  fp16_cache.kv_type = numerics::TensorType::F16;
  const double slot_mib = static_cast<double>(graph::build_step_graph(c, {1, 0}, fp16_cache).kv_bytes_written()) *
                          static_cast<double>(ctx) / (1 << 20);
  if (a.target.target == "cpu")
    a.target.slots = std::max(a.max_sequences, std::min(256, static_cast<int>(a.cache_mib / slot_mib)));
  runtime::LpuBackend* lpu = nullptr;
  auto backend = make_backend(a.target, model, ctx, &lpu);
  if (backend->slots() < a.max_sequences)
    fmt::print(stderr, "--target {} holds one sequence: requests run one at a time\n", a.target.target);

  runtime::Metrics metrics;
  runtime::EngineOptions engine_options;
  engine_options.max_sequences = a.max_sequences;
  engine_options.max_queue = a.max_queue;
  engine_options.itl_target_seconds = a.itl_target_ms / 1000.0;
  runtime::Engine engine(*backend, *model->tokenizer, engine_options, metrics);

  serve::HttpOptions http;
  http.host = a.host;
  http.port = a.port;
  http.api_key = a.api_key;
  http.model_id = a.model_id.empty() ? default_model_id(a.model) : a.model_id;
  http.max_body_bytes = static_cast<std::size_t>(a.max_body_mib * (1 << 20));
  http.max_connections = a.max_connections;
  http.request_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(a.request_timeout_s * 1000));
  http.idle_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(a.idle_timeout_s * 1000));
  http.cors_origins = a.cors;
  http.fingerprint = runtime::system_fingerprint(*model, a.target.target);
  const runtime::PromptBuilder prompts(*model->tokenizer, chat_format(a, *model));
  serve::HttpServer server(engine, prompts, metrics, http);
  const int port = server.bind();

  // Every connection holds a file descriptor: raise the soft limit as far as the hard one allows
  // (model files, the listening socket and the logs need a few dozen more).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    const rlim_t wanted = static_cast<rlim_t>(a.max_connections) + 64;
    if (files.rlim_cur < wanted) {
      files.rlim_cur = std::min(wanted, files.rlim_max);
      setrlimit(RLIMIT_NOFILE, &files);
    }
    if (files.rlim_cur < wanted)
      fmt::print(stderr,
                 "note: this process may open {} files (ulimit -n), fewer than --max-connections {} "
                 "needs; connections past that are refused by the system until others close\n",
                 files.rlim_cur, a.max_connections);
  }

  // First signal: drain (new requests get 503, running ones finish); a second: stop now.
  std::thread drainer;
  std::thread signal_thread([&] {
    int received = 0;
    if (sigwait(&signals, &received) != 0) return;
    if (received == SIGUSR1) return;  // the server stopped on its own
    fmt::print(stderr, "lockstep serve: {} received, draining: running requests have {} s to finish "
                       "(signal again to stop now)\n",
               received == SIGINT ? "SIGINT" : "SIGTERM", a.drain_seconds);
    drainer = std::thread([&] {
      server.drain(std::chrono::milliseconds(static_cast<std::int64_t>(a.drain_seconds * 1000)));
    });
    if (sigwait(&signals, &received) != 0 || received == SIGUSR1) return;
    fmt::print(stderr, "lockstep serve: second signal, stopping now\n");
    server.stop();
  });

  fmt::print(stderr,
             "serving '{}' with the {} target: {} sequences at once, {} KV slots of {} positions "
             "({:.0f} MiB, the rest is the prompt cache), queue of {}, inter-token target {}, "
             "chat format {}{}\n",
             http.model_id, a.target.target, engine.options().max_sequences, engine.slots(), ctx,
             slot_mib * engine.slots(), engine.options().max_queue,
             a.itl_target_ms > 0 ? fmt::format("{} ms", a.itl_target_ms)
                                 : std::string("1.5x a lone sequence's step"),
             prompts.chat_format_name(), a.api_key.empty() ? "" : ", API key required");
  fmt::print("lockstep serve: listening on http://{}:{}\n", a.host, port);
  std::fflush(stdout);
  server.listen();
  // Wake the signal thread, waiting for a first or second signal.
  pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  if (drainer.joinable()) drainer.join();
  fmt::print(stderr, "lockstep serve: stopped\n");
}

void add_serve_command(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand(
      "serve", "OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions (streamed or "
               "not), /v1/models, /health, /metrics");
  add_model_argument(*cmd, args->model);
  cmd->add_option("--host", args->host, "address to listen on (loopback unless you open it)")->capture_default_str();
  cmd->add_option("--port", args->port, "TCP port; 0 picks a free one (printed)")->capture_default_str();
  cmd->add_option("--ctx", args->ctx, "context length per sequence in tokens (default: min(trained, 2048))");
  cmd->add_option("--max-sequences", args->max_sequences, "sequences decoded together at most")
      ->capture_default_str();
  cmd->add_option("--max-queue", args->max_queue,
                  "requests waiting for a sequence at most; more get 429 with Retry-After")
      ->capture_default_str();
  cmd->add_option("--cache-mib", args->cache_mib,
                  "KV memory for running sequences and the prompt cache, MiB (cpu target)")
      ->capture_default_str();
  cmd->add_option("--itl-target-ms", args->itl_target_ms,
                  "inter-token latency target: sequences are batched only while steps stay under "
                  "it (0: 1.5x a lone sequence's step)")
      ->capture_default_str();
  cmd->add_option("--api-key", args->api_key, "require 'Authorization: Bearer KEY' on /v1/*");
  cmd->add_option("--model-id", args->model_id, "the model's name in the API (default: the file's stem)");
  cmd->add_option("--chat-template", args->chat_template,
                  "chat format: llama2, llama3, chatml or mistral (default: the model's own, "
                  "else chatml)");
  cmd->add_option("--max-body-mib", args->max_body_mib,
                  "largest request body, MiB, also once decompressed (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-connections", args->max_connections,
                  "open client connections at most; past it a newcomer evicts the longest idle or "
                  "slowest-sending one, else gets 503")
      ->capture_default_str();
  cmd->add_option("--request-timeout", args->request_timeout_s,
                  "seconds a request may take to arrive whole (headers and body) from its first byte")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", args->idle_timeout_s,
                  "seconds a keep-alive connection may wait for its next request")
      ->capture_default_str();
  cmd->add_option("--drain-seconds", args->drain_seconds,
                  "on SIGTERM/SIGINT: seconds running requests get to finish while new ones get 503")
      ->capture_default_str();
  cmd->add_option("--cors", args->cors,
                  "allow browser pages from this origin (repeatable; '*' for any): CORS headers and "
                  "preflight answers");
  add_target_options(*cmd, args->target);
  cmd->callback([args] { serve(*args); });
}

}  // namespace

LOCKSTEP_COMMAND(15, add_serve_command);

}  // namespace lockstep::cli
