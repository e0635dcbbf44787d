// The HTTP layer through a real socket (cpp-httplib's client on loopback): OpenAI's error shapes
// and statuses, authentication, the body limit, streaming in OpenAI's chunk shape, /metrics.
// The official openai npm client drives the same server in tests/serve/js.
#include "serve/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "model/model_loader.h"
#include "runtime/cpu_backend.h"

namespace lockstep::serve {
namespace {

using nlohmann::json;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = model::load_embedded_model();
    runtime::CpuBackendOptions o;
    o.threads = 2;
    o.slots = 4;
    backend_ = runtime::make_cpu_backend(model_, 128, o);
    const EngineOptions e = engine_options();
    engine_ = std::make_unique<Engine>(*backend_, *model_->tokenizer, e, metrics_);
    HttpOptions h;
    h.port = 0;
    h.api_key = "sesame";
    h.model_id = "kjv";
    h.max_body_bytes = 64 * 1024;
    server_ = std::make_unique<HttpServer>(*engine_, *model_->tokenizer, metrics_, h);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->listen(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_bearer_token_auth("sesame");
    client_->set_read_timeout(60, 0);
  }
  virtual EngineOptions engine_options() const {
    EngineOptions e;
    e.max_sequences = 2;
    e.max_queue = 8;
    return e;
  }
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

  std::shared_ptr<const model::Model> model_;
  std::unique_ptr<runtime::Backend> backend_;
  Metrics metrics_;
  std::unique_ptr<Engine> engine_;
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
  EngineOptions engine_options() const override {
    EngineOptions e;
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

}  // namespace
}  // namespace lockstep::serve
