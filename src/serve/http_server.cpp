#include "serve/http_server.h"

#include <fmt/format.h>

#include <atomic>
#include <future>
#include <optional>
#include <thread>
#include <type_traits>

#include "core/error.h"
#include "serve/http_session.h"

namespace lockstep::serve {
namespace {

using namespace std::chrono_literals;

constexpr auto kDrainWriteGrace = 2s;  // after the engine stops: time to write the last replies

}  // namespace

struct HttpServer::Impl {
  Impl(runtime::Engine& e, const runtime::PromptBuilder& t, runtime::Metrics& m, HttpOptions o)
      : options(std::move(o)),
        parsers(static_cast<std::size_t>(std::max(1, options.parse_threads))),
        context(io, parsers, e, t, m, options) {}

  ~Impl() {
    stop();
    parsers.stop();
    parsers.join();
    // The I/O thread is gone: close what is left here, so that no stream keeps a listener that
    // posts to an io_context about to be destroyed.
    std::vector<Session*> open(context.sessions.begin(), context.sessions.end());
    for (Session* s : open) s->close();
  }

  HttpOptions options;
  net::thread_pool parsers;
  ServerContext context;     // before io: sessions leave its list as io destroys them
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  net::steady_timer accept_retry{io};
  std::atomic<bool> stopped{false};

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open() || ec == net::error::operation_aborted) return;
      if (ec) {
        // Out of file descriptors (EMFILE) or similar: try again shortly instead of spinning.
        accept_retry.expires_after(50ms);
        accept_retry.async_wait([this](beast::error_code e) {
          if (!e) accept();
        });
        return;
      }
      admit(std::move(socket));
      accept();
    });
  }

  void admit(tcp::socket socket) {
    if (static_cast<int>(context.sessions.size()) >= options.max_connections && !evict_one())
      return refuse(std::move(socket));
    std::make_shared<Session>(context, std::move(socket))->start();
  }

  // Closes the connection that loses least: the longest idle one, else the one that has spent
  // longest sending its request (a slow-loris socket), else the longest lingering one.
  bool evict_one() {
    Session* victim = nullptr;
    int victim_rank = 3;
    for (Session* s : context.sessions) {
      int rank;
      switch (s->phase()) {
        case Session::Phase::Lingering: rank = 0; break;
        case Session::Phase::Idle: rank = 1; break;
        case Session::Phase::Reading: rank = 2; break;
        default: continue;
      }
      if (rank < victim_rank || (rank == victim_rank && s->phase_start() < victim->phase_start())) {
        victim = s;
        victim_rank = rank;
      }
    }
    if (!victim) return false;
    victim->close("evicted");
    return true;
  }

  // Every connection is generating or writing a reply: the newcomer gets a short 503 (written
  // without waiting: a client that does not read it loses it) and is closed.
  void refuse(tcp::socket socket) {
    const std::string body = error_body(ApiError(
        503, "server_error",
        fmt::format("The server has {} connections open, all of them busy (lockstep serve --max-connections); "
                    "retry shortly.",
                    options.max_connections),
        "", "too_many_connections"));
    const std::string response = fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nServer: lockstep\r\nRetry-After: 1\r\nContent-Type: "
        "application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.size(), body);
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(response), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    context.metrics.count_response(503);
    context.metrics.count_closed_connection("refused");
  }

  void stop() {
    if (stopped.exchange(true)) return;
    net::post(io, [this] {
      beast::error_code ignored;
      acceptor.close(ignored);
      accept_retry.cancel();
      std::vector<Session*> open(context.sessions.begin(), context.sessions.end());
      for (Session* s : open) s->close();
      io.stop();
    });
  }

  // Runs `f` on the I/O thread and returns its result; nullopt when the I/O thread does not
  // answer within 2 s (it has stopped).
  template <class F>
  std::optional<std::invoke_result_t<F>> on_io_thread(F f) {
    auto result = std::make_shared<std::promise<std::invoke_result_t<F>>>();
    auto future = result->get_future();
    net::post(io, [result, f] { result->set_value(f()); });
    if (future.wait_for(2s) != std::future_status::ready) return std::nullopt;
    return future.get();
  }
};

HttpServer::HttpServer(runtime::Engine& engine, const runtime::PromptBuilder& prompts, runtime::Metrics& metrics,
                       HttpOptions options)
    : impl_(std::make_unique<Impl>(engine, prompts, metrics, std::move(options))) {}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  const auto& o = impl_->options;
  beast::error_code ec;
  tcp::endpoint endpoint;
  const auto address = net::ip::make_address(o.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, static_cast<unsigned short>(o.port));
  } else {  // a host name ("localhost"): its first address
    tcp::resolver resolver(impl_->io);
    const auto found = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || found.empty())
      fail("cannot listen on '{}': it is neither an IP address nor a name this machine resolves "
           "(try 127.0.0.1, 0.0.0.0 or ::1)",
           o.host);
    endpoint = found.begin()->endpoint();
  }
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (ec) {
    if (o.port == 0) fail("cannot listen on {}: {}", o.host, ec.message());
    fail("cannot listen on {}:{}: {} (choose another with --port, or --port 0 for any free one)", o.host,
         o.port, ec.message());
  }
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("cannot listen on {}:{}: {}", o.host, o.port, ec.message());
  return acceptor.local_endpoint().port();
}

void HttpServer::listen() {
  if (impl_->stopped) return;
  impl_->accept();
  // A handler that throws must not take the server down: the one connection it served closes
  // (its session is dropped with the handler) and the loop goes on.
  for (;;) {
    try {
      impl_->io.run();
      return;
    } catch (const std::exception& e) {
      fmt::print(stderr, "lockstep serve: a connection failed: {}\n", e.what());
    }
  }
}

void HttpServer::stop() { impl_->stop(); }

void HttpServer::drain(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (s.stopped) return;
  s.on_io_thread([&] {
    s.context.draining = true;
    std::vector<Session*> open(s.context.sessions.begin(), s.context.sessions.end());
    for (Session* session : open)
      if (session->quiescent()) session->close();
    return true;
  });
  runtime::Engine& engine = s.context.engine;
  engine.stop_accepting();
  const auto until = SteadyClock::now() + grace;
  while (!engine.idle() && SteadyClock::now() < until) std::this_thread::sleep_for(10ms);
  engine.stop();  // what is left ends with an error event
  const auto write_until = SteadyClock::now() + kDrainWriteGrace;
  auto replies_pending = [&s] {
    for (Session* session : s.context.sessions)
      if (session->phase() == Session::Phase::Working) return true;
    return false;
  };
  while (SteadyClock::now() < write_until && s.on_io_thread(replies_pending).value_or(false))
    std::this_thread::sleep_for(10ms);
  stop();
}

}  // namespace lockstep::serve
