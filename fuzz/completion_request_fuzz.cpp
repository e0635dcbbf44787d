// libFuzzer target for the server's request parser: each input is a request body, parsed for
// both endpoints. lockstep::serve::ApiError is the accepted outcome for a bad body; it must be
// a 4xx whose error_body() is a JSON object with the four OpenAI keys. Any other exception, a
// crash or a sanitizer report is a bug. A body that parses must satisfy the contract's ranges.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "serve/completion_request.h"

namespace {

using namespace lockstep::serve;

void check(bool condition) {
  if (!condition) std::abort();
}

void check_request(const CompletionRequest& r, Endpoint endpoint) {
  check(r.endpoint == endpoint);
  check(!r.model.empty());
  if (endpoint == Endpoint::ChatCompletions) {
    check(!r.messages.empty());
    for (const auto& m : r.messages)
      check(m.role == "system" || m.role == "user" || m.role == "assistant");
  } else {
    check(r.messages.empty());
  }
  check(!r.max_tokens || *r.max_tokens >= 1);
  check(r.temperature >= 0 && r.temperature <= 2);
  check(r.top_p > 0 && r.top_p <= 1);
  check(r.top_k >= 0);
  check(static_cast<float>(r.min_p) >= 0 && static_cast<float>(r.min_p) < 1);
  check(static_cast<float>(r.repetition_penalty) > 0 &&
        std::isfinite(static_cast<float>(r.repetition_penalty)));
  check(r.presence_penalty >= -2 && r.presence_penalty <= 2);
  check(r.frequency_penalty >= -2 && r.frequency_penalty <= 2);
  check(r.stop.size() <= 4);
  for (const auto& s : r.stop) check(!s.empty());
  check(r.top_logprobs >= 0 && r.top_logprobs <= 20);
  check(r.logprobs || r.top_logprobs == 0);
  check(r.stream || !r.include_usage);
}

void check_error(const ApiError& e) {
  check(e.status >= 400 && e.status < 500);
  check(std::string_view(e.what()).size() > 0);
  const auto body = nlohmann::json::parse(error_body(e), nullptr, /*allow_exceptions=*/false);
  check(body.is_object() && body.size() == 1 && body.contains("error"));
  const auto& error = body["error"];
  check(error.is_object() && error.size() == 4);
  check(error["message"].is_string() && error["type"].is_string());
  check(error["param"].is_null() || error["param"].is_string());
  check(error["code"].is_null() || error["code"].is_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (Endpoint endpoint : {Endpoint::ChatCompletions, Endpoint::Completions}) {
    try {
      check_request(parse_completion_request(endpoint, body), endpoint);
    } catch (const ApiError& e) {
      check_error(e);
    }
  }
  return 0;
}
