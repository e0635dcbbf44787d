// The HTTP front door (cpp-httplib): OpenAI's routes over the engine.
//   POST /v1/chat/completions, /v1/completions   streamed (SSE) or not
//   GET  /v1/models, /health, /metrics            (Prometheus text)
// With an API key, /v1/* needs "Authorization: Bearer KEY" (401 otherwise). Every error is
// OpenAI's JSON error shape with its status; a body over max_body_bytes gets 413; a full queue
// 429 with Retry-After; a streaming client that goes away cancels its sequence.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "serve/engine.h"
#include "serve/metrics.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::serve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0: any free port (see bind())
  std::string api_key;                   // empty: no authentication
  std::string model_id;                  // the one model served
  tokenizer::ChatFormat chat_format = tokenizer::ChatFormat::ChatML;
  std::size_t max_body_bytes = 4 << 20;  // larger request bodies get 413
  int threads = 0;                       // connection threads; 0 = queue + sequences + 8
};

class HttpServer {
 public:
  // engine, tokenizer and metrics must outlive the server.
  HttpServer(Engine& engine, const tokenizer::Tokenizer& tokenizer, Metrics& metrics,
             HttpOptions options);
  ~HttpServer();

  // Binds the socket; returns the port. Throws lockstep::Error with the reason when it cannot.
  int bind();
  // Serves until stop() (from any thread).
  void listen();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockstep::serve
