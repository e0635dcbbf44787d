// One client connection of the HTTP server (serve/http_server.h), and what all connections of
// one server share. Internal to the HTTP layer.
//
// A connection's life, every step on the server's one I/O thread:
//
//   Idle ──first byte──▶ Reading ──headers──▶ (route, key, limits) ──body──▶ Working ──▶ reply ──▶ Idle
//   (idle_timeout)       (request_timeout,                                   (parse on the pool,
//                         from the first byte)                                submit, generate)
//
// While Working, one read stays posted on the socket: if the client goes away (EOF, reset) the
// sequence is cancelled at once, whether or not the reply is streamed. Bytes that arrive
// instead (a pipelined request) are kept for the next turn, and the watch stops.
#pragma once

// Boost 1.74's Asio uses std::exchange without including <utility>; and Beast speaks
// std::string_view (BOOST_BEAST_USE_STD_STRING_VIEW, set for the HTTP library in CMakeLists.txt).
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "serve/completion_request.h"
#include "runtime/engine.h"
#include "serve/http_server.h"
#include "runtime/metrics.h"
#include "serve/openai_api.h"

namespace lockstep::serve {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

class Session;

// What became of a completion request's body: a running stream, or why not.
struct Submission {
  std::shared_ptr<runtime::RequestStream> stream;
  CompletionRequest request;
  std::optional<ApiError> error;          // the client's fault (4xx) or a server failure (500)
  std::optional<runtime::Overloaded> overloaded;   // 429 / 503
};

// What the connections of one server share; touched on the I/O thread only, except the const
// references (thread-safe objects) that the parse pool uses too.
struct ServerContext {
  ServerContext(net::io_context& io, net::thread_pool& parsers, runtime::Engine& engine,
                const runtime::PromptBuilder& prompts, runtime::Metrics& metrics, const HttpOptions& options);

  net::io_context& io;
  net::thread_pool& parsers;
  runtime::Engine& engine;
  const runtime::PromptBuilder& prompts;
  runtime::Metrics& metrics;
  const HttpOptions& options;
  std::int64_t started;          // Unix time the server started, s (GET /v1/models "created")
  bool draining = false;         // every new request gets 503
  std::list<Session*> sessions;  // every open connection, oldest first

  // "req_" + 32 hex digits: the x-request-id of one response; never repeats across restarts
  // (a random 64-bit nonce per process, a counter, mixed).
  std::string request_id();
  // "chatcmpl-..." / "cmpl-..." with 24 hex digits, unique in the same way.
  std::string completion_id(Endpoint endpoint);
  // A sampling seed for a request that names none: below 2^53, so that JavaScript clients
  // (whose numbers are doubles) can send it back exactly.
  std::uint64_t draw_seed();

 private:
  std::uint64_t unique_bits();
  std::uint64_t nonce_;
  std::uint64_t counter_ = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  enum class Phase { Idle, Reading, Working, Lingering, Closed };

  Session(ServerContext& context, tcp::socket socket);
  ~Session();
  void start();
  // Closes the socket (and cancels the sequence); `why` counts in the metrics when not empty.
  void close(const char* why = nullptr);
  Phase phase() const { return phase_; }
  SteadyClock::time_point phase_start() const { return phase_start_; }
  // Idle with nothing buffered: closing it loses no request.
  bool quiescent() const { return phase_ == Phase::Idle && buffer_.size() == 0; }

 private:
  using Parser = http::request_parser<http::string_body>;
  using Request = http::request<http::string_body>;

  // Reading.
  void wait_for_request();
  void read_request();
  void on_header(beast::error_code ec);
  void on_body(beast::error_code ec);
  void watch();
  void on_watch(beast::error_code ec, std::size_t n);
  void arm(std::chrono::milliseconds timeout);
  void disarm();
  void set_phase(Phase phase);

  // Routes.
  void route();
  void read_body();
  void answer_preflight();
  void answer_get(std::string_view path);
  void start_completion(Endpoint endpoint);
  void on_submitted(Submission submission);
  void pump();
  void pump_stream(std::vector<runtime::StreamEvent> events);
  void pump_whole(std::vector<runtime::StreamEvent> events);

  // Writing.
  void reply(http::status status, std::string body, std::string_view content_type,
             std::vector<std::pair<std::string, std::string>> headers = {});
  void reply_error(const ApiError& error, std::vector<std::pair<std::string, std::string>> headers = {});
  void write_stream_chunk(std::string data, bool last);
  void after_reply();
  void linger();
  void add_common_headers(http::fields& fields);
  bool keep_alive() const;

  ServerContext& context_;
  tcp::socket socket_;
  net::steady_timer deadline_;
  std::list<Session*>::iterator registration_;
  Phase phase_ = Phase::Idle;
  SteadyClock::time_point phase_start_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  bool watching_ = false;       // a read is posted to notice a disconnect (or the next request)
  bool writing_ = false;
  bool body_unread_ = false;    // the reply leaves a request body on the wire: close after it
  bool closing_after_reply_ = false;

  // The request being answered.
  std::string request_id_;
  std::string origin_;          // its Origin header, for CORS
  unsigned version_ = 11;
  bool client_keep_alive_ = true;

  // A completion being generated.
  std::shared_ptr<runtime::RequestStream> stream_;
  ResponseHeader header_;
  bool streaming_ = false;
  bool want_logprobs_ = false, include_usage_ = false;
  bool first_chunk_ = true, finished_ = false;
  std::string seed_header_;
  std::string text_;                      // non-streamed: gathered text
  std::vector<runtime::TokenLogprob> logprobs_;    // non-streamed: gathered logprobs
  std::unique_ptr<http::response<http::empty_body>> stream_head_;
  std::unique_ptr<http::response_serializer<http::empty_body>> stream_serializer_;
};

}  // namespace lockstep::serve
