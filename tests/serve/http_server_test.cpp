// The HTTP layer through a real socket: cpp-httplib's client (an HTTP implementation that is
// not the server's) for well-behaved requests, and raw sockets for what a hostile or broken
// client does (half a header, a trickle, idle sockets, a gzip bomb, leaving mid-request).
// OpenAI's error shapes and statuses, authentication, body limits, streaming in OpenAI's chunk
// shape, /metrics, the defences of http_server.h and the graceful drain.
// The official openai npm client drives the same server in tests/serve/js; the binary's
// SIGTERM handling and an attack suite against it are in tests/python/test_serve_attacks.py.
#include "serve/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "model/model_loader.h"
#include "runtime/cpu_backend.h"
#include "support/paced_backend.h"
#include "support/raw_socket.h"
#include "support/zlib_compress.h"

namespace lockstep::serve {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::RawSocket;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = model::load_embedded_model();
    runtime::CpuBackendOptions o;
    o.threads = 2;
    o.slots = 4;
    backend_ = runtime::make_cpu_backend(model_, context_length(), o);
    if (step_pace() > 0ms)
      backend_ = std::make_unique<testing::PacedBackend>(std::move(backend_), step_pace());
    const runtime::EngineOptions e = engine_options();
    engine_ = std::make_unique<runtime::Engine>(*backend_, *model_->tokenizer, e, metrics_);
    prompts_ = std::make_unique<runtime::PromptBuilder>(*model_->tokenizer, tokenizer::ChatFormat::ChatML);
    server_ = std::make_unique<HttpServer>(*engine_, *prompts_, metrics_, http_options());
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->listen(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_bearer_token_auth("sesame");
    client_->set_read_timeout(60, 0);
  }
  virtual runtime::EngineOptions engine_options() const {
    runtime::EngineOptions e;
    e.max_sequences = 2;
    e.max_queue = 8;
    return e;
  }
  virtual HttpOptions http_options() const {
    HttpOptions h;
    h.port = 0;
    h.api_key = "sesame";
    h.model_id = "kjv";
    h.fingerprint = "test-fingerprint";
    h.max_body_bytes = 64 * 1024;
    return h;
  }
  virtual std::int64_t context_length() const { return 128; }
  // Time each engine step takes at least (0: as fast as the machine goes).
  virtual std::chrono::milliseconds step_pace() const { return 0ms; }

  void TearDown() override {
    server_->stop();
    thread_.join();
  }

  // POSTs a body; returns the status and the parsed JSON body.
  std::pair<int, json> post(const std::string& path, const std::string& body) {
    auto res = client_->Post(path.c_str(), body, "application/json");
    if (!res) return {-1, json()};
    return {res->status, json::parse(res->body, nullptr, false)};
  }

  static void expect_openai_error(const json& body, const std::string& type) {
    ASSERT_TRUE(body.contains("error")) << body.dump();
    const json& e = body["error"];
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty());
    EXPECT_EQ(e["type"], type);
    EXPECT_TRUE(e.contains("param") && e.contains("code")) << body.dump();
  }

  // Polls `condition` every 10 ms for up to `timeout`.
  template <class F>
  static bool eventually(F condition, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (condition()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return condition();
  }

  // A raw HTTP/1.1 POST with the test key.
  std::string raw_post(const std::string& path, const std::string& body,
                       const std::string& extra_headers = "") const {
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sesame\r\n"
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n" + extra_headers + "\r\n" + body;
  }

  std::string metrics_text() {
    auto res = client_->Get("/metrics");
    return res ? res->body : "";
  }

  std::shared_ptr<const model::Model> model_;
  std::unique_ptr<runtime::Backend> backend_;
  runtime::Metrics metrics_;
  std::unique_ptr<runtime::Engine> engine_;
  std::unique_ptr<runtime::PromptBuilder> prompts_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(HttpServerTest, ChatCompletionInOpenAIsShape) {
  auto [status, body] = post("/v1/chat/completions",
                             R"({"model":"kjv","messages":[{"role":"user","content":"Who made the light?"}],
                                 "max_tokens":5,"temperature":0})");
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["model"], "kjv");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(body["choices"][0]["message"]["content"].is_string());
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 5);
  EXPECT_EQ(body["usage"]["total_tokens"],
            body["usage"]["prompt_tokens"].get<int>() + body["usage"]["completion_tokens"].get<int>());
  EXPECT_EQ(body["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
}

TEST_F(HttpServerTest, StreamedChunksEndWithDoneAndUsage) {
  const std::string request = R"({"model":"kjv","prompt":"In the beginning","max_tokens":6,
      "temperature":0,"stream":true,"stream_options":{"include_usage":true}})";
  auto res = client_->Post("/v1/completions", request, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  std::string text, finish;
  int usage_chunks = 0;
  bool done = false;
  std::size_t at = 0;
  while ((at = res->body.find("data: ", at)) != std::string::npos) {
    const std::size_t end = res->body.find("\n\n", at);
    ASSERT_NE(end, std::string::npos);
    const std::string data = res->body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    ASSERT_FALSE(done) << "data after [DONE]";
    const json chunk = json::parse(data);
    EXPECT_EQ(chunk["object"], "text_completion");
    if (chunk["choices"].empty()) {
      ++usage_chunks;
      EXPECT_EQ(chunk["usage"]["completion_tokens"], 6);
      continue;
    }
    text += chunk["choices"][0]["text"].get<std::string>();
    if (!chunk["choices"][0]["finish_reason"].is_null()) finish = chunk["choices"][0]["finish_reason"];
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(usage_chunks, 1);
  EXPECT_EQ(finish, "length");
  // The same request unstreamed gives the same text (greedy).
  auto [status, body] = post("/v1/completions", R"({"model":"kjv","prompt":"In the beginning","max_tokens":6,"temperature":0})");
  ASSERT_EQ(status, 200);
  EXPECT_EQ(body["choices"][0]["text"], text);
}

TEST_F(HttpServerTest, ErrorsHaveOpenAIsShapeAndStatus) {
  auto check = [&](const std::string& body, int want_status, const std::string& param) {
    auto [status, json_body] = post("/v1/chat/completions", body);
    EXPECT_EQ(status, want_status) << body << " -> " << json_body.dump();
    expect_openai_error(json_body, "invalid_request_error");
    if (!param.empty()) {
      EXPECT_EQ(json_body["error"]["param"], param) << json_body.dump();
    }
  };
  check("{not json", 400, "");
  check(R"({"model":"kjv","messages":[]})", 400, "messages");
  check(R"({"model":"kjv","messages":[{"role":"user","content":"hi"}],"temperature":"hot"})", 400, "temperature");
  check(R"({"model":"kjv","messages":[{"role":"user","content":"hi"}],"n":2})", 400, "n");
  check(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})", 404, "model");
  // Context overflow names the token counts.
  auto [status, body] = post("/v1/completions",
                             json{{"model", "kjv"}, {"prompt", "x"}, {"max_tokens", 1000}}.dump());
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["error"]["code"], "context_length_exceeded");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("128"), std::string::npos) << body.dump();
  // Too large a body.
  const std::string big = json{{"model", "kjv"}, {"prompt", std::string(100000, 'a')}}.dump();
  auto res = client_->Post("/v1/completions", big, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  expect_openai_error(json::parse(res->body), "invalid_request_error");
  // Unknown route.
  auto missing = client_->Get("/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  expect_openai_error(json::parse(missing->body), "invalid_request_error");
}

TEST_F(HttpServerTest, TheApiKeyIsRequiredOnV1Only) {
  httplib::Client anonymous("127.0.0.1", port_);
  auto res = anonymous.Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  expect_openai_error(json::parse(res->body), "invalid_request_error");
  httplib::Client wrong("127.0.0.1", port_);
  wrong.set_bearer_token_auth("open");
  res = wrong.Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(anonymous.Get("/health")->status, 200);
  res = client_->Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["data"][0]["id"], "kjv");
}

TEST_F(HttpServerTest, MetricsShowLatencyHistogramsAfterARequest) {
  ASSERT_EQ(post("/v1/completions", R"({"model":"kjv","prompt":"And God said","max_tokens":4})").first, 200);
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  for (const char* line : {"lockstep_time_to_first_token_seconds_count 1",
                           "lockstep_inter_token_latency_seconds_count 3",
                           "lockstep_generation_tokens_total 4", "lockstep_queue_depth 0",
                           "lockstep_requests_total{status=\"200\"}"})
    EXPECT_NE(res->body.find(line), std::string::npos) << line << " not in\n" << res->body;
}

// One sequence at a time and one waiting: the rest of a burst is refused at once.
class FullHttpServerTest : public HttpServerTest {
  runtime::EngineOptions engine_options() const override {
    runtime::EngineOptions e;
    e.max_sequences = 1;
    e.max_queue = 1;
    return e;
  }
};

TEST_F(FullHttpServerTest, ABurstPastCapacityGets429WithRetryAfter) {
  std::vector<std::thread> clients;
  std::atomic<int> ok{0}, refused{0}, other{0};
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", port_);
      c.set_bearer_token_auth("sesame");
      c.set_read_timeout(60, 0);
      auto res = c.Post("/v1/completions", R"({"model":"kjv","prompt":"In the beginning","max_tokens":110})",
                        "application/json");
      if (res && res->status == 200) {
        ++ok;
      } else if (res && res->status == 429) {
        ++refused;
        EXPECT_GE(std::stoi(res->get_header_value("Retry-After")), 1);
        EXPECT_EQ(json::parse(res->body)["error"]["code"], "rate_limit_exceeded");
      } else {
        ++other;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(refused.load(), 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(metrics_.queue_depth.load(), 0);
}


// --- Defences ---------------------------------------------------------------------------------

// Resident memory of this process, bytes.
std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// `members` gzip members of 16 MiB of zeros each (zlib's own deflate, about 1,000 to 1): a
// body that decodes to members x 16 MiB, made in a fraction of a second.
std::string gzip_bomb(int members) {
  const std::string member = testing::zlib_compress(std::string(std::size_t{16} << 20, '\0'), 16 + MAX_WBITS);
  std::string out;
  for (int i = 0; i < members; ++i) out += member;
  return out;
}

// The server's default limits (4 MiB bodies), for attacks that fit under them compressed.
class DefaultLimitsHttpServerTest : public HttpServerTest {
  HttpOptions http_options() const override {
    HttpOptions h = HttpServerTest::http_options();
    h.max_body_bytes = HttpOptions{}.max_body_bytes;
    return h;
  }
};

TEST_F(DefaultLimitsHttpServerTest, AGzipBombGets413WithoutBeingInflated) {
  const std::string bomb = gzip_bomb(64);  // 1 GiB of zeros in ~1 MiB
  ASSERT_LT(bomb.size(), HttpOptions{}.max_body_bytes);
  const std::int64_t before = resident_bytes();
  httplib::Headers headers{{"Content-Encoding", "gzip"}};
  auto res = client_->Post("/v1/completions", headers, bomb, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  expect_openai_error(json::parse(res->body), "invalid_request_error");
  // The compressed body and at most the limit decoded, not the gigabyte.
  EXPECT_LT(resident_bytes() - before, std::int64_t{96} << 20);
  // A real compressed request is served.
  const std::string request = R"({"model":"kjv","prompt":"In the beginning","max_tokens":3})";
  const std::string packed = testing::zlib_compress(request, 16 + MAX_WBITS);
  res = client_->Post("/v1/completions", headers, packed, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(HttpServerTest, RequestsAreRefusedFromTheirHeadersBeforeTheBodyIsRead) {
  // A keyless POST to /health announcing 200 KB of gzip, a keyless completion announcing 3 MB,
  // and a keyed one over the body limit: each answered at once, none waits for its body.
  const std::vector<std::pair<std::string, int>> cases{
      {"POST /health HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 200000\r\n\r\n", 405},
      {"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\n", 401},
      {"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sesame\r\n"
       "Content-Length: 3000000\r\n\r\n",
       413},
  };
  for (const auto& [head, status] : cases) {
    RawSocket s(port_);
    ASSERT_TRUE(s.send(head));
    const std::string reply = s.receive_until("\r\n\r\n", 2s);
    EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 " + std::to_string(status)) << head << " -> " << reply;
    // The connection closes after such a reply (its body is still on the wire).
    EXPECT_TRUE(s.closed_by_peer(5s));
  }
}

TEST_F(HttpServerTest, EveryConnectionHasNagleOff) {
  RawSocket s(port_);
  ASSERT_TRUE(s.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(s.receive_until("}", 2s).find("200 OK"), std::string::npos);
  // The server runs in this process: find its side of the connection among our descriptors.
  int server_sides = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_in local{};
    socklen_t length = sizeof local;
    int listening = 0;
    socklen_t int_length = sizeof listening;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 || local.sin_family != AF_INET ||
        ntohs(local.sin_port) != port_)
      continue;
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &int_length);
    if (listening) continue;
    int nodelay = 0;
    int_length = sizeof nodelay;
    ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &int_length), 0);
    EXPECT_EQ(nodelay, 1) << "TCP_NODELAY is off on the server's socket " << fd;
    ++server_sides;
  }
  EXPECT_GE(server_sides, 1);
}

// A small server: 16 connections, requests must arrive within 1 s, idle ones live 30 s.
class TightHttpServerTest : public HttpServerTest {
  HttpOptions http_options() const override {
    HttpOptions h = HttpServerTest::http_options();
    h.max_connections = 16;
    h.request_timeout = 1s;
    return h;
  }
};

TEST_F(TightHttpServerTest, SlowClientsDoNotLockOthersOut) {
  // 40 slow-loris sockets, each sending one header line every 200 ms, never finishing.
  std::vector<RawSocket> slow;
  for (int i = 0; i < 40; ++i) {
    slow.emplace_back(port_);
    slow.back().send("GET /health HTTP/1.1\r\n");
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    for (int round = 0; !stop; ++round) {
      for (auto& s : slow) s.send("X-Slow-" + std::to_string(round) + ": 1\r\n");
      std::this_thread::sleep_for(200ms);
    }
  });
  // Meanwhile real clients are served, one after another.
  for (int i = 0; i < 5; ++i) {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(5, 0);
    auto res = c.Get("/health");
    ASSERT_TRUE(res) << "request " << i << " got no answer";
    EXPECT_EQ(res->status, 200);
  }
  // A trickling request is cut at its deadline even though bytes keep coming.
  RawSocket trickler(port_);
  ASSERT_TRUE(trickler.send("GET /health HTTP/1.1\r\n"));
  std::atomic<bool> cut{false};
  std::thread watcher([&] { cut = trickler.closed_by_peer(4s); });
  for (int i = 0; i < 15 && !cut; ++i) {
    trickler.send("X-Trickle: 1\r\n");
    std::this_thread::sleep_for(100ms);
  }
  watcher.join();
  EXPECT_TRUE(cut) << "a request trickling for 1.5 s was not cut at the 1 s deadline";
  stop = true;
  trickle.join();
  const std::string m = metrics_text();
  EXPECT_NE(m.find("lockstep_http_connections_closed_total{reason=\"evicted\"}"), std::string::npos) << m;
}

TEST_F(TightHttpServerTest, IdleConnectionsDoNotStallANewClient) {
  std::vector<RawSocket> idle;
  for (int i = 0; i < 40; ++i) idle.emplace_back(port_);
  for (int i = 0; i < 3; ++i) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(2, 0);
    auto res = c.Get("/health");
    ASSERT_TRUE(res) << "a client behind 40 idle connections got no answer in 2 s";
    EXPECT_EQ(res->status, 200);
  }
  EXPECT_LE(metrics_.open_connections.load(), 16);
}

// Requests that take a while: 10 ms per step, a 512-token context.
class SlowHttpServerTest : public HttpServerTest {
 protected:
  std::chrono::milliseconds step_pace() const override { return 10ms; }
  std::int64_t context_length() const override { return 512; }
};

TEST_F(SlowHttpServerTest, AnAbandonedRequestStopsGenerating) {
  for (const bool stream : {false, true}) {
    const auto generated_before = metrics_.generation_tokens.load();
    {
      RawSocket s(port_);
      ASSERT_TRUE(s.send(raw_post("/v1/completions",
                                  json{{"model", "kjv"}, {"prompt", "And God said"}, {"max_tokens", 400},
                                       {"stream", stream}}
                                      .dump())));
      ASSERT_TRUE(eventually([&] { return metrics_.active_sequences.load() == 1; }, 5s));
      std::this_thread::sleep_for(300ms);
      s.close(/*reset=*/!stream);
    }
    // Noticed at once, not at the end of the 400 tokens (4 s at this pace).
    EXPECT_TRUE(eventually([&] { return metrics_.active_sequences.load() == 0; }, 1s))
        << (stream ? "streamed" : "non-streamed") << " request still running after its client left";
    EXPECT_LT(metrics_.generation_tokens.load() - generated_before, 200u);
  }
  EXPECT_NE(metrics_text().find("lockstep_http_connections_closed_total{reason=\"client_gone\"} 2"),
            std::string::npos);
}

// Reads a streamed completion from a raw socket until the server ends it.
struct StreamRead {
  std::string body;
  bool done() const { return body.find("data: [DONE]") != std::string::npos; }
  bool error() const { return body.find("data: {\"error\"") != std::string::npos; }
};

TEST_F(SlowHttpServerTest, DrainFinishesRunningStreamsAndRefusesNewRequests) {
  RawSocket s(port_);
  ASSERT_TRUE(s.send(raw_post("/v1/completions",
                              R"({"model":"kjv","prompt":"And God said","max_tokens":40,"stream":true})")));
  ASSERT_NE(s.receive_until("data: ", 5s).find("data: "), std::string::npos);
  std::thread drainer([&] { server_->drain(10s); });
  ASSERT_TRUE(eventually([&] {
    auto res = httplib::Client("127.0.0.1", port_).Get("/health");
    return res && res->status == 503;
  }, 2s));
  auto refused = client_->Post("/v1/completions", R"({"model":"kjv","prompt":"x","max_tokens":1})", "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_FALSE(refused->get_header_value("Retry-After").empty());
  EXPECT_EQ(json::parse(refused->body)["error"]["code"], "service_unavailable");
  StreamRead stream{s.receive_until("data: [DONE]", 10s)};
  EXPECT_TRUE(stream.done()) << stream.body;
  EXPECT_FALSE(stream.error());
  drainer.join();
  thread_.join();  // listen() has returned
  thread_ = std::thread([] {});
}

TEST_F(SlowHttpServerTest, DrainPastItsGraceEndsStreamsWithAnErrorEvent) {
  RawSocket s(port_);
  ASSERT_TRUE(s.send(raw_post("/v1/completions",
                              R"({"model":"kjv","prompt":"And God said","max_tokens":400,"stream":true})")));
  ASSERT_NE(s.receive_until("data: ", 5s).find("data: "), std::string::npos);
  server_->drain(200ms);
  StreamRead stream{s.receive(3s)};
  EXPECT_TRUE(stream.error()) << stream.body;
  EXPECT_NE(stream.body.find("service_unavailable"), std::string::npos) << stream.body;
  EXPECT_NE(stream.body.find("\r\n0\r\n\r\n"), std::string::npos) << "the chunked body is not ended";
}

TEST_F(HttpServerTest, ResponsesCarryRequestIdsFingerprintAndReplayableSeeds) {
  std::set<std::string> request_ids, completion_ids;
  for (int i = 0; i < 3; ++i) {
    auto res = client_->Post("/v1/chat/completions",
                             R"({"model":"kjv","messages":[{"role":"user","content":"Hi"}],"max_tokens":2})",
                             "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    const std::string id = res->get_header_value("x-request-id");
    EXPECT_TRUE(std::regex_match(id, std::regex("req_[0-9a-f]{32}"))) << id;
    request_ids.insert(id);
    const json body = json::parse(res->body);
    completion_ids.insert(body["id"].get<std::string>());
    EXPECT_EQ(body["system_fingerprint"], "test-fingerprint");
    // Drawn seeds fit a JavaScript number exactly.
    EXPECT_LT(std::stoull(res->get_header_value("x-lockstep-seed")), std::uint64_t{1} << 53);
  }
  EXPECT_EQ(request_ids.size(), 3u);
  EXPECT_EQ(completion_ids.size(), 3u);
  // Errors carry an id too.
  auto missing = client_->Get("/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->get_header_value("x-request-id").empty());
  // A server started now (as after a restart) does not hand out the same completion ids.
  HttpOptions h = http_options();
  HttpServer second(*engine_, *prompts_, metrics_, h);
  const int port = second.bind();
  std::thread t([&] { second.listen(); });
  httplib::Client c("127.0.0.1", port);
  c.set_bearer_token_auth("sesame");
  auto res = c.Post("/v1/completions", R"({"model":"kjv","prompt":"x","max_tokens":1})", "application/json");
  second.stop();
  t.join();
  ASSERT_TRUE(res);
  EXPECT_EQ(completion_ids.count(json::parse(res->body)["id"].get<std::string>()), 0u);
}

TEST_F(HttpServerTest, Expect100ContinueIsAnswered) {
  RawSocket s(port_);
  const std::string body = R"({"model":"kjv","prompt":"x","max_tokens":1})";
  ASSERT_TRUE(s.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sesame\r\n"
                     "Content-Length: " + std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(s.receive_until("\r\n\r\n", 2s).substr(0, 12), "HTTP/1.1 100");
  ASSERT_TRUE(s.send(body));
  EXPECT_EQ(s.receive_until("\r\n\r\n", 5s).substr(0, 12), "HTTP/1.1 200");
}

TEST_F(HttpServerTest, MalformedHeadersAndMethodsGetTheirStatus) {
  RawSocket huge(port_);
  huge.send("GET /health HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(huge.receive_until("\r\n\r\n", 2s).substr(0, 12), "HTTP/1.1 431");
  RawSocket garbage(port_);
  garbage.send("HELLO\r\n\r\n");
  EXPECT_EQ(garbage.receive_until("\r\n\r\n", 2s).substr(0, 12), "HTTP/1.1 400");
  auto res = client_->Get("/v1/chat/completions");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST");
}

class CorsHttpServerTest : public HttpServerTest {
  HttpOptions http_options() const override {
    HttpOptions h = HttpServerTest::http_options();
    h.cors_origins = {"https://app.example"};
    return h;
  }
};

TEST_F(CorsHttpServerTest, BrowsersGetPreflightAnswersAndTheirOriginBack) {
  httplib::Client browser("127.0.0.1", port_);
  auto pre = browser.Options("/v1/chat/completions",
                             {{"Origin", "https://app.example"},
                              {"Access-Control-Request-Method", "POST"},
                              {"Access-Control-Request-Headers", "authorization, content-type, x-stainless-os"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);  // no key needed for a preflight
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_NE(pre->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Headers"), "authorization, content-type, x-stainless-os");
  client_->set_default_headers({{"Origin", "https://app.example"}});
  auto res = client_->Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_NE(res->get_header_value("Access-Control-Expose-Headers").find("x-request-id"), std::string::npos);
  client_->set_default_headers({{"Origin", "https://evil.example"}});
  res = client_->Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin"));
}

}  // namespace
}  // namespace lockstep::serve
