// The HTTP front door: OpenAI's routes over the engine, on Boost.Beast / Asio.
//   POST /v1/chat/completions, /v1/completions   streamed (SSE) or not
//   GET  /v1/models, /v1/models/{id}, /health, /metrics (Prometheus text)
//   OPTIONS (CORS preflight, with HttpOptions::cors_origins)
//
// Event-driven: one thread runs every connection (an idle or slow socket holds a file
// descriptor and a few KiB, never a thread), and a small pool parses, decompresses and
// tokenizes request bodies so that a large prompt never stalls the other connections.
//
// Defences (docs/server.md, "Limits and defences"):
//   - at most max_connections sockets; a newcomer over the cap evicts the connection that has
//     waited longest idle, else the one that has spent longest sending its request, else gets
//     503 (connections that are generating or writing a reply are never evicted);
//   - a request must arrive whole (headers and body) within request_timeout of its first byte,
//     however slowly its bytes trickle; an idle keep-alive connection closes after idle_timeout;
//     a client that stops reading a reply is dropped after write_timeout;
//   - headers over 16 KiB get 431; a body over max_body_bytes gets 413 before it is read, and a
//     compressed body that would decode past it gets 413 as soon as it does (serve/content_encoding.h);
//   - the API key and the route are checked from the headers, before any body byte is read;
//   - a client that disconnects (streamed or not) cancels its sequence at the engine's next step;
//   - TCP_NODELAY on every connection: a token leaves when it is ready, not 40 ms later.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/metrics.h"
#include "runtime/prompt_builder.h"

namespace lockstep::serve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0: any free port (see bind())
  std::string api_key;                   // empty: no authentication
  std::string model_id;                  // the one model served
  std::string fingerprint = "lockstep";  // system_fingerprint (runtime/system_fingerprint.h)
  std::size_t max_body_bytes = 4 << 20;  // larger request bodies get 413, compressed or not
  int max_connections = 512;             // open sockets at most (see above)
  std::chrono::milliseconds request_timeout{30'000};  // a whole request's headers and body
  std::chrono::milliseconds idle_timeout{30'000};     // a keep-alive connection with no request
  std::chrono::milliseconds write_timeout{30'000};    // a reply the client does not read
  // Origins allowed to call from a browser ("*" for any); empty: no CORS headers at all.
  std::vector<std::string> cors_origins;
  int parse_threads = 2;                 // threads that parse and tokenize request bodies
};

class HttpServer {
 public:
  // engine, prompts (the model's tokenizer and chat format) and metrics must outlive the server.
  HttpServer(runtime::Engine& engine, const runtime::PromptBuilder& prompts, runtime::Metrics& metrics,
             HttpOptions options);
  ~HttpServer();

  // Binds the socket; returns the port. Throws lockstep::Error with the reason when it cannot.
  int bind();
  // Serves until stop() or the end of a drain().
  void listen();
  // Closes every connection now and makes listen() return. From any thread; idempotent.
  void stop();
  // Graceful shutdown, from any thread but listen()'s; returns when listen() is about to:
  //  1. every new request gets 503 with Retry-After ("service_unavailable"), /health says
  //     "draining", idle keep-alive connections close, and the engine takes no new work;
  //  2. queued and running requests go on for up to `grace`;
  //  3. then the engine stops: what is still running ends with an OpenAI error (an error event
  //     in a stream, a 503 otherwise), and after the last reply is written (at most 2 s more)
  //     the server stops.
  void drain(std::chrono::milliseconds grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockstep::serve
