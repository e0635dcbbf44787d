#include "serve/http_server.h"

#include <fmt/format.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <random>

#include "core/error.h"
#include "serve/openai_api.h"

namespace lockstep::serve {
namespace {

using namespace std::chrono_literals;

void send_error(httplib::Response& res, const ApiError& error) {
  res.status = error.status;
  res.set_content(error_body(error), "application/json");
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What a streamed response has sent so far (lives as long as the content provider).
struct StreamState {
  std::shared_ptr<RequestStream> stream;
  ResponseHeader header;
  bool want_logprobs = false;
  bool include_usage = false;
  bool first = true;
  bool finished = false;
};

}  // namespace

struct HttpServer::Impl {
  Engine& engine;
  const tokenizer::Tokenizer& tokenizer;
  Metrics& metrics;
  HttpOptions options;
  httplib::Server server;
  std::int64_t started = unix_now();
  std::atomic<std::uint64_t> request_counter{0};
  std::mt19937_64 seeds{std::random_device{}()};
  std::mutex seeds_mutex;
  std::string fingerprint;

  Impl(Engine& e, const tokenizer::Tokenizer& t, Metrics& m, HttpOptions o)
      : engine(e), tokenizer(t), metrics(m), options(std::move(o)) {
    fingerprint = fmt::format("lockstep-{}-{}x{}", engine.slots(), engine.options().max_sequences,
                              engine.context_length());
    const int threads = options.threads > 0
                            ? options.threads
                            : engine.options().max_queue + engine.options().max_sequences + 8;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    server.set_payload_max_length(options.max_body_bytes);
    server.set_keep_alive_max_count(1000);
    server.set_read_timeout(30s);
    server.set_write_timeout(30s);
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return authenticate(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                    : httplib::Server::HandlerResponse::Handled;
    });
    server.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413)
        send_error(res, ApiError(413, "invalid_request_error",
                                 fmt::format("The request body is larger than this server's limit of {} bytes.",
                                             options.max_body_bytes),
                                 "", "request_too_large"));
      else if (res.status == 404)
        send_error(res, ApiError(404, "invalid_request_error",
                                 fmt::format("No route {} {}: this server answers POST /v1/chat/completions, "
                                             "POST /v1/completions, GET /v1/models, /health and /metrics.",
                                             req.method, req.path),
                                 "", "unknown_url"));
      else
        send_error(res, ApiError(res.status, "invalid_request_error",
                                 fmt::format("The request could not be served (HTTP {}).", res.status)));
    });
    server.set_logger([this](const httplib::Request&, const httplib::Response& res) {
      metrics.count_response(res.status);
    });

    server.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::ChatCompletions, req, res);
    });
    server.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::Completions, req, res);
    });
    server.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(models_body(options.model_id, started), "application/json");
    });
    server.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.matches[1] != options.model_id)
        return send_error(res, unknown_model(req.matches[1]));
      res.set_content(model_body(options.model_id, started), "application/json");
    });
    server.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(fmt::format(R"({{"status":"ok","model":{},"queue_depth":{},"active_sequences":{}}})",
                                  nlohmann::json(options.model_id).dump(), metrics.queue_depth.load(),
                                  metrics.active_sequences.load()),
                      "application/json");
    });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }

  ApiError unknown_model(const std::string& name) const {
    return ApiError(404, "invalid_request_error",
                    fmt::format("The model '{}' does not exist; this server serves '{}' (GET /v1/models).",
                                name, options.model_id),
                    "model", "model_not_found");
  }

  // /v1/* needs the key when one is set; /health and /metrics never do.
  bool authenticate(const httplib::Request& req, httplib::Response& res) const {
    if (options.api_key.empty() || req.path.rfind("/v1/", 0) != 0) return true;
    const std::string header = req.get_header_value("Authorization");
    if (header.empty()) {
      send_error(res, ApiError(401, "invalid_request_error",
                               "You didn't provide an API key. Send it in an Authorization header: "
                               "'Authorization: Bearer KEY' (the key given to lockstep serve --api-key).",
                               "", "invalid_api_key"));
      return false;
    }
    if (header != "Bearer " + options.api_key) {
      send_error(res, ApiError(401, "invalid_request_error",
                               "Incorrect API key provided: it does not match this server's --api-key.",
                               "", "invalid_api_key"));
      return false;
    }
    return true;
  }

  std::uint64_t next_seed() {
    std::lock_guard lock(seeds_mutex);
    return seeds();
  }

  void complete(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<RequestStream> stream;
    CompletionRequest request;
    try {
      request = parse_completion_request(endpoint, req.body);
      if (request.model != options.model_id) throw unknown_model(request.model);
      GenerationJob job = make_job(request, tokenizer, options.chat_format, engine.context_length(),
                                   next_seed());
      stream = engine.submit(std::move(job));
    } catch (const ApiError& e) {
      return send_error(res, e);
    } catch (const Overloaded& o) {
      res.set_header("Retry-After", fmt::format("{:.0f}", o.retry_after_seconds));
      if (o.shutting_down)
        return send_error(res, ApiError(503, "server_error", "The server is shutting down; retry on another.",
                                        "", "service_unavailable"));
      return send_error(res, ApiError(429, "rate_limit_error",
                                      fmt::format("The server is at capacity ({} requests queued); retry after "
                                                  "{:.0f} s.",
                                                  engine.options().max_queue, o.retry_after_seconds),
                                      "", "rate_limit_exceeded"));
    }
    ResponseHeader header{endpoint,
                          fmt::format("{}-{:x}{:06x}", endpoint == Endpoint::ChatCompletions ? "chatcmpl" : "cmpl",
                                      unix_now(), request_counter.fetch_add(1)),
                          unix_now(), options.model_id, fingerprint};
    res.set_header("x-lockstep-seed", std::to_string(stream->seed()));
    const bool want_logprobs = request.logprobs;

    if (!request.stream) {
      std::string text;
      std::vector<TokenLogprob> logprobs;
      for (;;) {
        for (StreamEvent& e : stream->take(1000ms)) {
          text += e.text;
          for (auto& lp : e.logprobs) logprobs.push_back(std::move(lp));
          if (!e.finished) continue;
          if (!e.error.empty())
            return send_error(res, ApiError(503, "server_error", e.error));
          return res.set_content(completion_body(header, text, logprobs, want_logprobs,
                                                 e.finish_reason, e.usage),
                                 "application/json");
        }
      }
    }

    auto state = std::make_shared<StreamState>();
    state->stream = stream;
    state->header = header;
    state->want_logprobs = want_logprobs;
    state->include_usage = request.include_usage;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [state](std::size_t, httplib::DataSink& sink) {
          auto events = state->stream->take(200ms);
          if (events.empty()) {
            if (sink.is_writable()) return true;
            state->stream->cancel();
            return false;
          }
          std::string out;
          for (const StreamEvent& e : events) {
            if (e.finished && !e.error.empty()) {
              out += error_event(ApiError(503, "server_error", e.error));
            } else if (e.finished) {
              out += chunk_event(state->header, e.text, e.logprobs, state->want_logprobs, state->first,
                                 e.finish_reason);
              if (state->include_usage) out += usage_event(state->header, e.usage);
            } else {
              out += chunk_event(state->header, e.text, e.logprobs, state->want_logprobs, state->first, "");
            }
            state->first = false;
            if (e.finished) {
              out += stream_done();
              state->finished = true;
            }
          }
          if (!sink.write(out.data(), out.size())) {
            state->stream->cancel();
            return false;
          }
          if (state->finished) sink.done();
          return true;
        },
        [state](bool success) {
          if (!state->finished) state->stream->cancel();
        });
  }
};

HttpServer::HttpServer(Engine& engine, const tokenizer::Tokenizer& tokenizer, Metrics& metrics,
                       HttpOptions options)
    : impl_(std::make_unique<Impl>(engine, tokenizer, metrics, std::move(options))) {}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  const auto& o = impl_->options;
  if (o.port == 0) {
    const int port = impl_->server.bind_to_any_port(o.host);
    if (port < 0) fail("cannot listen on {}: the address is not one of this machine's", o.host);
    return port;
  }
  if (!impl_->server.bind_to_port(o.host, o.port))
    fail("cannot listen on {}:{}: the port is in use or the address is not this machine's "
         "(choose another with --port, or --port 0 for any free one)",
         o.host, o.port);
  return o.port;
}

void HttpServer::listen() { impl_->server.listen_after_bind(); }

void HttpServer::stop() { impl_->server.stop(); }

}  // namespace lockstep::serve
