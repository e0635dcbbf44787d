#include "serve/http_session.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <exception>
#include <limits>

#include "serve/content_encoding.h"

namespace lockstep::serve {
namespace {

constexpr std::uint32_t kHeaderLimitBytes = 16 * 1024;
constexpr std::size_t kBufferLimitBytes = 64 * 1024;  // headers + what a read brings past them
constexpr std::chrono::milliseconds kLingerTimeout{2'000};
constexpr std::size_t kInlineParseBytes = 16 * 1024;  // bodies parsed on the I/O thread at most

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// splitmix64: a bijection that spreads a counter's bits over the whole word.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

ApiError unknown_model(const std::string& name, const std::string& served) {
  return ApiError(404, "invalid_request_error",
                  fmt::format("The model '{}' does not exist; this server serves '{}' (GET /v1/models).",
                              name, served),
                  "model", "model_not_found");
}

ApiError shutting_down() {
  return ApiError(503, "server_error", "The server is shutting down; retry on another.", "",
                  "service_unavailable");
}

}  // namespace

// --- ServerContext ---------------------------------------------------------------------------

ServerContext::ServerContext(net::io_context& io_context, net::thread_pool& parse_pool, runtime::Engine& e,
                             const runtime::PromptBuilder& t, runtime::Metrics& m, const HttpOptions& o)
    : io(io_context),
      parsers(parse_pool),
      engine(e),
      prompts(t),
      metrics(m),
      options(o),
      started(unix_now()),
      nonce_((static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}() ^
             static_cast<std::uint64_t>(SteadyClock::now().time_since_epoch().count())) {}

std::uint64_t ServerContext::unique_bits() { return mix(nonce_ ^ mix(++counter_)); }

std::string ServerContext::request_id() {
  return fmt::format("req_{:016x}{:016x}", unique_bits(), unique_bits());
}

std::string ServerContext::completion_id(Endpoint endpoint) {
  return fmt::format("{}-{:016x}{:08x}", endpoint == Endpoint::ChatCompletions ? "chatcmpl" : "cmpl",
                     unique_bits(), static_cast<std::uint32_t>(unique_bits()));
}

std::uint64_t ServerContext::draw_seed() { return unique_bits() >> 11; }

// --- Session: reading ------------------------------------------------------------------------

Session::Session(ServerContext& context, tcp::socket socket)
    : context_(context), socket_(std::move(socket)), deadline_(context.io), buffer_(kBufferLimitBytes) {
  registration_ = context_.sessions.insert(context_.sessions.end(), this);
  context_.metrics.open_connections.fetch_add(1);
}

Session::~Session() { close(); }

void Session::start() {
  beast::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  wait_for_request();
}

void Session::set_phase(Phase phase) {
  phase_ = phase;
  phase_start_ = SteadyClock::now();
}

void Session::arm(std::chrono::milliseconds timeout) {
  deadline_.expires_after(timeout);
  deadline_.async_wait([weak = weak_from_this()](beast::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    // A deadline moved after this wait fired (the handler was already queued) is not due yet.
    if (!self || self->deadline_.expiry() > SteadyClock::now()) return;
    const bool quiet = self->phase_ == Phase::Idle || self->phase_ == Phase::Lingering;
    self->close(quiet ? nullptr : "timeout");
  });
}

void Session::disarm() { deadline_.expires_at(SteadyClock::time_point::max()); }

void Session::wait_for_request() {
  set_phase(Phase::Idle);
  if (buffer_.size() > 0 && !watching_) return read_request();
  arm(context_.options.idle_timeout);
  watch();
}

void Session::watch() {
  if (watching_ || phase_ == Phase::Closed) return;
  watching_ = true;
  socket_.async_read_some(buffer_.prepare(std::min<std::size_t>(4096, buffer_.max_size() - buffer_.size())),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                            self->on_watch(ec, n);
                          });
}

void Session::on_watch(beast::error_code ec, std::size_t n) {
  watching_ = false;
  if (phase_ == Phase::Closed) return;
  if (ec) return close(phase_ == Phase::Working && stream_ && !finished_ ? "client_gone" : nullptr);
  buffer_.commit(n);
  if (phase_ == Phase::Lingering) return linger();
  if (phase_ == Phase::Idle) return read_request();
  // Working: the first bytes of a pipelined request. They wait in the buffer for their turn,
  // and the watch stops (one read at a time; a disconnect still shows at the next write).
}

void Session::read_request() {
  set_phase(Phase::Reading);
  arm(context_.options.request_timeout);  // the whole request: not restarted by each byte
  parser_.emplace();
  parser_->header_limit(kHeaderLimitBytes);
  // Checked against max_body_bytes after the key and the route. (Not boost::none: Beast 1.74
  // compares a Content-Length with an empty optional and calls every body too large.)
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            self->on_header(ec);
                          });
}

void Session::on_header(beast::error_code ec) {
  if (phase_ == Phase::Closed) return;
  request_id_ = context_.request_id();
  if (ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted)
      return close();
    body_unread_ = true;  // the stream is not at a request boundary any more
    if (ec == http::error::header_limit)
      return reply_error(ApiError(431, "invalid_request_error",
                                  fmt::format("The request's headers are larger than {} bytes.", kHeaderLimitBytes),
                                  "", "request_header_fields_too_large"));
    if (ec == http::error::buffer_overflow)
      return reply_error(ApiError(431, "invalid_request_error", "A request header line is too long.", "",
                                  "request_header_fields_too_large"));
    return reply_error(ApiError(400, "invalid_request_error",
                                fmt::format("The request is not valid HTTP/1.1 ({}).", ec.message())));
  }
  const auto& req = parser_->get();
  origin_ = std::string(req[http::field::origin].substr(0, 256));
  version_ = req.version();
  client_keep_alive_ = req.keep_alive();
  body_unread_ = !parser_->is_done();
  route();
}

void Session::read_body() {
  const auto& req = parser_->get();
  const std::size_t limit = context_.options.max_body_bytes;
  const auto length = parser_->content_length();
  if (length && *length > limit)
    return reply_error(ApiError(413, "invalid_request_error",
                                fmt::format("The request body ({} bytes) is larger than this server's limit "
                                            "of {} bytes (lockstep serve --max-body-mib).",
                                            *length, limit),
                                "", "request_too_large"));
  parser_->body_limit(limit);
  auto read = [self = shared_from_this()] {
    http::async_read(self->socket_, self->buffer_, *self->parser_,
                     [self](beast::error_code ec, std::size_t) { self->on_body(ec); });
  };
  if (!iequals(req[http::field::expect], "100-continue")) return read();
  // curl and others wait (1 s) for this before sending a body of more than 1 KiB.
  static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  net::async_write(socket_, net::buffer(kContinue),
                   [self = shared_from_this(), read](beast::error_code ec, std::size_t) {
                     if (ec) return self->close();
                     read();
                   });
}

void Session::on_body(beast::error_code ec) {
  if (phase_ == Phase::Closed) return;
  if (ec == http::error::body_limit)
    return reply_error(ApiError(413, "invalid_request_error",
                                fmt::format("The request body is larger than this server's limit of {} bytes "
                                            "(lockstep serve --max-body-mib).",
                                            context_.options.max_body_bytes),
                                "", "request_too_large"));
  if (ec == net::error::eof || ec == http::error::partial_message || ec == net::error::connection_reset ||
      ec == net::error::operation_aborted)
    return close();
  if (ec)
    return reply_error(ApiError(400, "invalid_request_error",
                                fmt::format("The request body could not be read ({}).", ec.message())));
  body_unread_ = false;
  const std::string_view target = parser_->get().target();
  start_completion(target.substr(0, target.find('?')) == "/v1/chat/completions" ? Endpoint::ChatCompletions
                                                                                : Endpoint::Completions);
}

// --- Session: routes -------------------------------------------------------------------------

void Session::route() {
  const auto& req = parser_->get();
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (req.method() == http::verb::options) return answer_preflight();
  if (context_.draining && path != "/health")
    return reply_error(shutting_down(), {{"Retry-After", "5"}});

  const HttpOptions& o = context_.options;
  if (!o.api_key.empty() && path.substr(0, 4) == "/v1/") {
    const std::string_view header = req[http::field::authorization];
    if (header.empty())
      return reply_error(ApiError(401, "invalid_request_error",
                                  "You didn't provide an API key. Send it in an Authorization header: "
                                  "'Authorization: Bearer KEY' (the key given to lockstep serve --api-key).",
                                  "", "invalid_api_key"));
    if (header != "Bearer " + o.api_key)
      return reply_error(ApiError(401, "invalid_request_error",
                                  "Incorrect API key provided: it does not match this server's --api-key.",
                                  "", "invalid_api_key"));
  }

  const bool completion = path == "/v1/chat/completions" || path == "/v1/completions";
  const bool readable = path == "/health" || path == "/metrics" || path == "/v1/models" ||
                        path.substr(0, 11) == "/v1/models/";
  if (!completion && !readable)
    return reply_error(ApiError(404, "invalid_request_error",
                                fmt::format("No route {} {}: this server answers POST /v1/chat/completions, "
                                            "POST /v1/completions, GET /v1/models, /health and /metrics.",
                                            std::string_view(req.method_string()), path.substr(0, 256)),
                                "", "unknown_url"));
  const http::verb wanted = completion ? http::verb::post : http::verb::get;
  if (req.method() != wanted)
    return reply_error(ApiError(405, "invalid_request_error",
                                fmt::format("{} takes {} requests only.", path,
                                            std::string_view(http::to_string(wanted))),
                                "", "method_not_allowed"),
                       {{"Allow", std::string(http::to_string(wanted))}});
  if (completion) return read_body();
  answer_get(path);
}

void Session::answer_preflight() {
  reply(http::status::no_content, "", "", {{"Allow", "GET, POST, OPTIONS"}});
}

void Session::answer_get(std::string_view path) {
  const HttpOptions& o = context_.options;
  runtime::Metrics& m = context_.metrics;
  if (path == "/health")
    return reply(context_.draining ? http::status::service_unavailable : http::status::ok,
                 fmt::format(R"({{"status":"{}","model":{},"queue_depth":{},"active_sequences":{},"open_connections":{}}})",
                             context_.draining ? "draining" : "ok", nlohmann::json(o.model_id).dump(),
                             m.queue_depth.load(), m.active_sequences.load(), m.open_connections.load()),
                 "application/json");
  if (path == "/metrics") return reply(http::status::ok, m.render(), "text/plain; version=0.0.4; charset=utf-8");
  if (path == "/v1/models") return reply(http::status::ok, models_body(o.model_id, context_.started), "application/json");
  const std::string id(path.substr(11));
  if (id != o.model_id) return reply_error(unknown_model(id.substr(0, 256), o.model_id));
  reply(http::status::ok, model_body(o.model_id, context_.started), "application/json");
}

namespace {

// Decompresses, parses, tokenizes and submits a body (any thread).
Submission submit(const ServerContext& c, Endpoint endpoint, std::string body, const std::string& encoding,
                  std::uint64_t seed) {
  Submission out;
  try {
    if (!encoding.empty()) body = decode_content(encoding, std::move(body), c.options.max_body_bytes);
    out.request = parse_completion_request(endpoint, body);
    if (out.request.model != c.options.model_id) throw unknown_model(out.request.model, c.options.model_id);
    runtime::GenerationJob job = make_job(out.request, c.prompts, c.engine.context_length(), seed);
    out.stream = c.engine.submit(std::move(job));
  } catch (const ApiError& e) {
    out.error = e;
  } catch (const runtime::Overloaded& o) {
    out.overloaded = o;
  } catch (const std::exception& e) {
    out.error = ApiError(500, "server_error", fmt::format("The request failed inside the server: {}", e.what()));
  }
  return out;
}

}  // namespace

void Session::start_completion(Endpoint endpoint) {
  set_phase(Phase::Working);
  disarm();
  watch();  // a client that leaves while its request is parsed or generated cancels it
  Request req = parser_->release();
  parser_.reset();
  std::string encoding(req[http::field::content_encoding]);
  const std::uint64_t seed = context_.draw_seed();
  header_ = ResponseHeader{endpoint, context_.completion_id(endpoint), unix_now(), context_.options.model_id,
                           context_.options.fingerprint};
  // A small plain body is parsed here: two thread hand-offs would cost more than the work.
  // Larger or compressed ones go to the parse pool, so that the I/O thread never stalls.
  if (encoding.empty() && req.body().size() <= kInlineParseBytes)
    return on_submitted(submit(context_, endpoint, std::move(req.body()), encoding, seed));
  net::post(context_.parsers, [self = shared_from_this(), endpoint, body = std::move(req.body()),
                               encoding = std::move(encoding), seed]() mutable {
    Submission submission = submit(self->context_, endpoint, std::move(body), encoding, seed);
    net::io_context& io = self->context_.io;
    net::post(io, [self = std::move(self), submission = std::move(submission)]() mutable {
      self->on_submitted(std::move(submission));
    });
  });
}

void Session::on_submitted(Submission submission) {
  auto& [stream, request, error, overloaded] = submission;
  if (phase_ == Phase::Closed) {
    if (stream) stream->cancel();
    return;
  }
  if (error) return reply_error(*error);
  if (overloaded) {
    const std::vector<std::pair<std::string, std::string>> retry{
        {"Retry-After", fmt::format("{:.0f}", overloaded->retry_after_seconds)}};
    if (overloaded->shutting_down) return reply_error(shutting_down(), retry);
    return reply_error(ApiError(429, "rate_limit_error",
                                fmt::format("The server is at capacity ({} requests queued); retry after {:.0f} s.",
                                            context_.engine.options().max_queue, overloaded->retry_after_seconds),
                                "", "rate_limit_exceeded"),
                       retry);
  }
  stream_ = std::move(stream);
  seed_header_ = std::to_string(stream_->seed());
  streaming_ = request.stream;
  want_logprobs_ = request.logprobs;
  include_usage_ = request.include_usage;
  first_chunk_ = true;
  finished_ = false;
  text_.clear();
  logprobs_.clear();
  stream_->on_event([weak = weak_from_this(), &io = context_.io] {
    net::post(io, [weak] {
      if (auto self = weak.lock()) self->pump();
    });
  });
  if (!streaming_) return pump();

  stream_head_ = std::make_unique<http::response<http::empty_body>>(http::status::ok, version_);
  add_common_headers(*stream_head_);
  stream_head_->set(http::field::content_type, "text/event-stream");
  stream_head_->set(http::field::cache_control, "no-cache");
  stream_head_->set("x-lockstep-seed", seed_header_);
  stream_head_->keep_alive(keep_alive());
  if (version_ >= 11) stream_head_->chunked(true);
  stream_serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*stream_head_);
  context_.metrics.count_response(200);
  writing_ = true;
  arm(context_.options.write_timeout);
  http::async_write_header(socket_, *stream_serializer_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             self->writing_ = false;
                             self->disarm();
                             if (ec) return self->close("client_gone");
                             self->pump();
                           });
}

void Session::pump() {
  if (phase_ != Phase::Working || !stream_ || writing_ || finished_) return;
  std::vector<runtime::StreamEvent> events = stream_->take_ready();
  if (events.empty()) return;
  if (streaming_) pump_stream(std::move(events));
  else pump_whole(std::move(events));
}

void Session::pump_stream(std::vector<runtime::StreamEvent> events) {
  std::string out;
  for (const runtime::StreamEvent& e : events) {
    if (e.finished && !e.error.empty()) {
      out += error_event(ApiError(503, "server_error", e.error, "", "service_unavailable"));
      closing_after_reply_ = true;
    } else {
      out += chunk_event(header_, e.text, e.logprobs, want_logprobs_, first_chunk_, e.finished ? e.finish_reason : "");
      if (e.finished && include_usage_) out += usage_event(header_, e.usage);
      if (e.finished) out += stream_done();
    }
    first_chunk_ = false;
    if (e.finished) {
      finished_ = true;
      break;
    }
  }
  write_stream_chunk(std::move(out), finished_);
}

void Session::pump_whole(std::vector<runtime::StreamEvent> events) {
  for (runtime::StreamEvent& e : events) {
    text_ += e.text;
    for (auto& lp : e.logprobs) logprobs_.push_back(std::move(lp));
    if (!e.finished) continue;
    finished_ = true;
    if (!e.error.empty()) return reply_error(ApiError(503, "server_error", e.error, "", "service_unavailable"));
    return reply(http::status::ok,
                 completion_body(header_, text_, logprobs_, want_logprobs_, e.finish_reason, e.usage),
                 "application/json", {{"x-lockstep-seed", seed_header_}});
  }
}

// --- Session: writing ------------------------------------------------------------------------

bool Session::keep_alive() const {
  return client_keep_alive_ && !body_unread_ && !closing_after_reply_ && !context_.draining;
}

void Session::add_common_headers(http::fields& fields) {
  fields.set(http::field::server, "lockstep");
  fields.set("x-request-id", request_id_);
  const auto& origins = context_.options.cors_origins;
  if (origins.empty() || origin_.empty()) return;
  const bool any = std::find(origins.begin(), origins.end(), "*") != origins.end();
  if (!any && std::find(origins.begin(), origins.end(), origin_) == origins.end()) return;
  fields.set(http::field::access_control_allow_origin, any ? std::string("*") : origin_);
  fields.set(http::field::vary, "Origin");
  fields.set(http::field::access_control_expose_headers, "x-request-id, x-lockstep-seed, retry-after");
  if (parser_ && parser_->get().method() == http::verb::options) {
    fields.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
    const std::string_view asked = parser_->get()[http::field::access_control_request_headers];
    fields.set(http::field::access_control_allow_headers,
               asked.empty() ? std::string_view("authorization, content-type") : asked.substr(0, 1024));
    fields.set(http::field::access_control_max_age, "600");
  }
}

void Session::reply(http::status status, std::string body, std::string_view content_type,
                    std::vector<std::pair<std::string, std::string>> headers) {
  auto res = std::make_shared<http::response<http::string_body>>(status, version_ >= 10 ? version_ : 11);
  add_common_headers(*res);
  if (!content_type.empty()) res->set(http::field::content_type, content_type);
  for (auto& [name, value] : headers) res->set(name, value);
  res->body() = std::move(body);
  res->keep_alive(keep_alive());
  res->prepare_payload();
  context_.metrics.count_response(static_cast<int>(status));
  if (phase_ != Phase::Working) set_phase(Phase::Working);  // a reply being written is not evictable
  writing_ = true;
  arm(context_.options.write_timeout);
  http::async_write(socket_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
    self->writing_ = false;
    self->disarm();
    if (ec) return self->close(self->stream_ ? "client_gone" : nullptr);
    self->after_reply();
  });
}

void Session::reply_error(const ApiError& error, std::vector<std::pair<std::string, std::string>> headers) {
  reply(static_cast<http::status>(error.status), error_body(error), "application/json", std::move(headers));
}

void Session::write_stream_chunk(std::string data, bool last) {
  if (data.empty() && !last) return;
  auto payload = std::make_shared<std::string>(std::move(data));
  auto done = [self = shared_from_this(), payload, last](beast::error_code ec, std::size_t) {
    self->writing_ = false;
    self->disarm();
    if (ec) return self->close("client_gone");
    if (last) return self->after_reply();
    self->pump();
  };
  writing_ = true;
  arm(context_.options.write_timeout);
  if (version_ < 11) {  // HTTP/1.0: no chunked encoding; the body ends when the connection does
    closing_after_reply_ = true;
    return net::async_write(socket_, net::buffer(*payload), std::move(done));
  }
  if (payload->empty()) return net::async_write(socket_, http::make_chunk_last(), std::move(done));
  if (last)
    return net::async_write(socket_, beast::buffers_cat(http::make_chunk(net::buffer(*payload)), http::make_chunk_last()),
                            std::move(done));
  net::async_write(socket_, http::make_chunk(net::buffer(*payload)), std::move(done));
}

void Session::after_reply() {
  if (stream_) {
    stream_->on_event({});
    if (!finished_) stream_->cancel();
    stream_.reset();
  }
  stream_serializer_.reset();
  stream_head_.reset();
  if (!keep_alive()) {
    // Lingering close: stop sending, then read and drop what the client still sends (the body
    // this reply refused) for a moment, so that closing does not reset the connection before the
    // client has read the reply.
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    set_phase(Phase::Lingering);
    arm(kLingerTimeout);
    if (!watching_) linger();
    return;
  }
  parser_.reset();
  wait_for_request();
}

void Session::linger() {
  buffer_.consume(buffer_.size());
  watching_ = true;  // the same one-read-at-a-time rule as the watch, whose handler continues this
  socket_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->on_watch(ec, n);
  });
}

void Session::close(const char* why) {
  if (phase_ == Phase::Closed) return;
  if (why) context_.metrics.count_closed_connection(why);
  set_phase(Phase::Closed);
  if (stream_) {
    stream_->on_event({});
    if (!finished_) stream_->cancel();
  }
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  deadline_.cancel();
  context_.sessions.erase(registration_);
  context_.metrics.open_connections.fetch_sub(1);
}

}  // namespace lockstep::serve
