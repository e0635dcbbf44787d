#include "serve/completion_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace lockstep::serve {
namespace {

using nlohmann::json;

CompletionRequest chat(const std::string& body) {
  return parse_completion_request(Endpoint::ChatCompletions, body);
}

CompletionRequest completion(const std::string& body) {
  return parse_completion_request(Endpoint::Completions, body);
}

// The ApiError a body causes, or a failed test when it parses.
ApiError error_of(Endpoint endpoint, const std::string& body) {
  try {
    parse_completion_request(endpoint, body);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body;
  return ApiError(0, "", "");
}

// A chat body with one user message and `extra` members ("\"n\": 2").
std::string chat_with(const std::string& extra) {
  return R"({"model":"m","messages":[{"role":"user","content":"hi"}])" +
         (extra.empty() ? "" : "," + extra) + "}";
}

std::string completion_with(const std::string& extra) {
  return R"({"model":"m","prompt":"hi")" + (extra.empty() ? "" : "," + extra) + "}";
}

// Checks status, param and that the error body is the OpenAI shape with its four keys.
void expect_error(Endpoint endpoint, const std::string& body, int status, const std::string& param,
                  const std::string& message_part = {}) {
  SCOPED_TRACE(body);
  const ApiError e = error_of(endpoint, body);
  EXPECT_EQ(e.status, status);
  EXPECT_EQ(e.param, param);
  EXPECT_EQ(e.type, "invalid_request_error");
  const std::string message = e.what();
  EXPECT_FALSE(message.empty());
  if (!message_part.empty()) {
    EXPECT_NE(message.find(message_part), std::string::npos) << message;
  }
  if (!param.empty()) {
    EXPECT_NE(message.find(param), std::string::npos) << message;
  }
  const json j = json::parse(error_body(e));
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j.size(), 1u);
  const json& err = j.at("error");
  ASSERT_EQ(err.size(), 4u);
  EXPECT_EQ(err.at("message"), message);
  EXPECT_EQ(err.at("type"), "invalid_request_error");
  if (param.empty()) {
    EXPECT_TRUE(err.at("param").is_null());
  } else {
    EXPECT_EQ(err.at("param"), param);
  }
  EXPECT_TRUE(err.at("code").is_null() || err.at("code").is_string());
}

void expect_chat_error(const std::string& extra, const std::string& param,
                       const std::string& message_part = {}) {
  expect_error(Endpoint::ChatCompletions, chat_with(extra), 400, param, message_part);
}

void expect_completion_error(const std::string& extra, const std::string& param,
                             const std::string& message_part = {}) {
  expect_error(Endpoint::Completions, completion_with(extra), 400, param, message_part);
}

TEST(CompletionRequest, ChatWithEveryField) {
  const CompletionRequest r = chat(R"({
    "model": "lockstep-kjv",
    "messages": [
      {"role": "developer", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "In the "}, {"type": "text", "text": "beginning"}]},
      {"role": "assistant", "content": "God"},
      {"role": "system", "content": ""},
      {"role": "user", "content": "more", "name": "alice"}
    ],
    "max_tokens": 50, "max_completion_tokens": 20, "temperature": 0.5, "top_p": 0.9,
    "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1,
    "seed": -1, "stop": ["\n", "END"], "presence_penalty": -2, "frequency_penalty": 2,
    "logprobs": true, "top_logprobs": 5, "n": 1, "stream": true,
    "stream_options": {"include_usage": true},
    "user": "u", "metadata": {"a": "b"}, "store": false, "parallel_tool_calls": true,
    "service_tier": "auto", "some_future_key": null
  })");
  EXPECT_EQ(r.endpoint, Endpoint::ChatCompletions);
  EXPECT_EQ(r.model, "lockstep-kjv");
  ASSERT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[0].content, "Be brief.");
  EXPECT_EQ(r.messages[1].role, "user");
  EXPECT_EQ(r.messages[1].content, "In the beginning");
  EXPECT_EQ(r.messages[2].role, "assistant");
  EXPECT_EQ(r.messages[3].content, "");
  EXPECT_EQ(r.messages[4].content, "more");
  EXPECT_EQ(r.max_tokens, 20);  // the smaller of the two
  EXPECT_EQ(r.temperature, 0.5);
  EXPECT_EQ(r.top_p, 0.9);
  EXPECT_EQ(r.top_k, 40);
  EXPECT_EQ(r.min_p, 0.05f);
  EXPECT_EQ(r.repetition_penalty, 1.1f);
  EXPECT_EQ(r.seed, std::uint64_t{0xFFFFFFFFFFFFFFFF});
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_EQ(r.presence_penalty, -2);
  EXPECT_EQ(r.frequency_penalty, 2);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 5);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(CompletionRequest, ChatDefaults) {
  const CompletionRequest r = chat(chat_with(""));
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_EQ(r.temperature, 1.0);
  EXPECT_EQ(r.top_p, 1.0);
  EXPECT_EQ(r.top_k, 0);  // off, as OpenAI samples
  EXPECT_EQ(r.min_p, 0.0);
  EXPECT_EQ(r.repetition_penalty, 1.0);
  EXPECT_FALSE(r.seed.has_value());
  EXPECT_TRUE(r.stop.empty());
  EXPECT_EQ(r.presence_penalty, 0.0);
  EXPECT_EQ(r.frequency_penalty, 0.0);
  EXPECT_FALSE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 0);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
}

TEST(CompletionRequest, NullMeansNotGiven) {
  const CompletionRequest r = chat(chat_with(
      R"("max_tokens":null,"temperature":null,"top_p":null,"seed":null,"stop":null,)"
      R"("logprobs":null,"top_logprobs":null,"n":null,"stream":null,"stream_options":null,"tools":null)"));
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_EQ(r.temperature, 1.0);
  EXPECT_FALSE(r.seed.has_value());
}

TEST(CompletionRequest, CompletionsWithEveryField) {
  const CompletionRequest r = completion(R"({
    "model": "m", "prompt": ["Once upon"], "max_tokens": 7, "temperature": 0, "top_p": 1,
    "seed": 18446744073709551615, "stop": "\n\n", "presence_penalty": 1.5,
    "frequency_penalty": -0.5, "logprobs": 3, "n": 1, "stream": false, "echo": false,
    "best_of": 1, "suffix": ""
  })");
  EXPECT_EQ(r.endpoint, Endpoint::Completions);
  EXPECT_EQ(r.prompt, "Once upon");
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_EQ(r.temperature, 0.0);
  EXPECT_EQ(r.seed, std::uint64_t{18446744073709551615u});
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n\n"});
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_FALSE(r.stream);

  EXPECT_EQ(completion(completion_with("")).prompt, "hi");
  EXPECT_EQ(completion(R"({"model":"m","prompt":""})").prompt, "");
  const CompletionRequest zero = completion(completion_with(R"("logprobs":0)"));
  EXPECT_TRUE(zero.logprobs);  // the chosen tokens' log-probabilities, no alternatives
  EXPECT_EQ(zero.top_logprobs, 0);
}

TEST(CompletionRequest, IntegersAndNumbers) {
  EXPECT_EQ(chat(chat_with(R"("temperature":2)")).temperature, 2.0);  // an integer for a float
  EXPECT_EQ(chat(chat_with(R"("max_tokens":3.0)")).max_tokens, 3);   // a float holding an integer
  EXPECT_EQ(chat(chat_with(R"("max_tokens":1e3)")).max_tokens, 1000);
  EXPECT_EQ(chat(chat_with(R"("max_tokens":9223372036854775807)")).max_tokens,
            std::int64_t{9223372036854775807});
  EXPECT_EQ(chat(chat_with(R"("seed":-9223372036854775808)")).seed,
            std::uint64_t{0x8000000000000000});
  EXPECT_EQ(chat(chat_with(R"("seed":42)")).seed, 42u);
  EXPECT_EQ(chat(chat_with(R"("seed":0)")).seed, 0u);
  EXPECT_EQ(chat(chat_with(R"("top_p":1e-9)")).top_p, 1e-9);
  EXPECT_EQ(chat(chat_with(R"("n":1.0)")).messages.size(), 1u);
}

TEST(CompletionRequest, HarmlessValuesOfUnsupportedParameters) {
  EXPECT_NO_THROW(chat(chat_with(
      R"("tools":[],"tool_choice":"none","logit_bias":{},"response_format":{"type":"text"})")));
}

TEST(CompletionRequest, BodyErrors) {
  for (Endpoint e : {Endpoint::ChatCompletions, Endpoint::Completions}) {
    expect_error(e, "", 400, "", "empty");
    expect_error(e, " \r\n\t", 400, "", "empty");
    expect_error(e, "[]", 400, "", "must be a JSON object, but got an array");
    expect_error(e, "\"model\"", 400, "", "a string");
    expect_error(e, "42", 400, "", "JSON object");
    expect_error(e, "null", 400, "", "JSON object");
    expect_error(e, "{", 400, "", "not valid JSON");
    expect_error(e, R"({"model":"m",})", 400, "", "not valid JSON");
    expect_error(e, R"({"model":"m"} x)", 400, "", "not valid JSON");
    expect_error(e, "{'model':'m'}", 400, "", "not valid JSON");
  }
}

TEST(CompletionRequest, Model) {
  expect_error(Endpoint::ChatCompletions, R"({"messages":[{"role":"user","content":"x"}]})", 400,
               "model", "Missing required parameter");
  expect_error(Endpoint::Completions, R"({"prompt":"x","model":null})", 400, "model", "Missing");
  expect_error(Endpoint::ChatCompletions, R"({"model":7,"messages":[]})", 400, "model",
               "Invalid type for 'model': expected a string, but got an integer instead.");
  expect_error(Endpoint::Completions, R"({"model":"","prompt":"x"})", 400, "model");
}

TEST(CompletionRequest, Messages) {
  const auto body = [](const std::string& messages) {
    return R"({"model":"m","messages":)" + messages + "}";
  };
  const Endpoint c = Endpoint::ChatCompletions;
  expect_error(c, R"({"model":"m"})", 400, "messages", "Missing required parameter");
  expect_error(c, body("[]"), 400, "messages", "non-empty");
  expect_error(c, body("{}"), 400, "messages", "expected an array, but got an object instead");
  expect_error(c, body(R"("hi")"), 400, "messages");
  expect_error(c, body(R"([{"role":"user","content":"a"}, 3])"), 400, "messages[1]",
               "expected an object, but got an integer");
  expect_error(c, body(R"([{"content":"a"}])"), 400, "messages[0].role", "Missing");
  expect_error(c, body(R"([{"role":true,"content":"a"}])"), 400, "messages[0].role",
               "expected a string, but got a boolean");
  expect_error(c, body(R"([{"role":"user","content":"a"},{"role":"user","content":"b"},)"
                       R"({"role":"robot","content":"c"}])"),
               400, "messages[2].role",
               "Invalid value for 'messages[2].role': 'robot'; supported values are system, user, "
               "assistant and developer.");
  expect_error(c, body(R"([{"role":"tool","content":"a"}])"), 400, "messages[0].role");
  expect_error(c, body(R"([{"role":"user"}])"), 400, "messages[0].content", "Missing");
  expect_error(c, body(R"([{"role":"assistant","content":null}])"), 400, "messages[0].content");
  expect_error(c, body(R"([{"role":"user","content":5}])"), 400, "messages[0].content",
               "expected a string or an array of text parts, but got an integer");
  expect_error(c, body(R"([{"role":"user","content":[{"type":"text","text":"a"},)"
                       R"({"type":"image_url","image_url":{"url":"http://x"}}]}])"),
               400, "messages[0].content[1].type", "'image_url'");
  expect_error(c, body(R"([{"role":"user","content":["text"]}])"), 400, "messages[0].content[0]",
               "expected an object");
  expect_error(c, body(R"([{"role":"user","content":[{"text":"a"}]}])"), 400,
               "messages[0].content[0].type", "Missing");
  expect_error(c, body(R"([{"role":"user","content":[{"type":"text"}]}])"), 400,
               "messages[0].content[0].text", "Missing");
  expect_error(c, body(R"([{"role":"user","content":[{"type":"text","text":1}]}])"), 400,
               "messages[0].content[0].text", "expected a string");
  // A long role is quoted in part only.
  const ApiError e = error_of(c, body(R"([{"role":")" + std::string(10000, 'x') + R"(","content":"a"}])"));
  EXPECT_LT(std::string(e.what()).size(), 200u);
}

TEST(CompletionRequest, Prompt) {
  const Endpoint c = Endpoint::Completions;
  expect_error(c, R"({"model":"m"})", 400, "prompt", "Missing required parameter");
  expect_error(c, R"({"model":"m","messages":[{"role":"user","content":"x"}]})", 400, "prompt");
  expect_error(c, R"({"model":"m","prompt":["a","b"]})", 400, "prompt", "one completion");
  expect_error(c, R"({"model":"m","prompt":[]})", 400, "prompt");
  expect_error(c, R"({"model":"m","prompt":[1,2,3]})", 400, "prompt");
  expect_error(c, R"({"model":"m","prompt":[[1,2]]})", 400, "prompt[0]", "expected a string");
  expect_error(c, R"({"model":"m","prompt":{"text":"a"}})", 400, "prompt", "Invalid type");
  expect_error(c, R"({"model":"m","prompt":7})", 400, "prompt");
}

TEST(CompletionRequest, MaxTokens) {
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    const std::string k = std::string("\"") + key + "\":";
    expect_chat_error(k + "0", key, "expected an integer of at least 1, but got 0 instead");
    expect_chat_error(k + "-5", key, "at least 1");
    expect_chat_error(k + "3.5", key,
                      "expected an integer, but got a decimal number instead");
    expect_chat_error(k + "\"10\"", key, "expected an integer, but got a string instead");
    expect_chat_error(k + "true", key, "expected an integer, but got a boolean instead");
    expect_chat_error(k + "[1]", key, "an array");
    expect_chat_error(k + "18446744073709551615", key, "at least 1");
    expect_chat_error(k + "1e300", key, "at least 1, but got 1e+300 instead");
    expect_chat_error(k + "99999999999999999999999", key);
  }
}

TEST(CompletionRequest, SamplingRanges) {
  expect_chat_error(R"("temperature":"0.5")", "temperature",
                    "Invalid type for 'temperature': expected a number, but got a string instead.");
  expect_chat_error(R"("temperature":true)", "temperature", "got a boolean");
  expect_chat_error(R"("temperature":2.0001)", "temperature", "between 0 and 2");
  expect_chat_error(R"("temperature":-0.1)", "temperature");
  expect_chat_error(R"("temperature":1e308)", "temperature");
  expect_chat_error(R"("top_p":0)", "top_p", "greater than 0 and at most 1");
  expect_chat_error(R"("top_p":1.5)", "top_p");
  expect_chat_error(R"("top_p":{})", "top_p", "got an object");
  expect_chat_error(R"("presence_penalty":-2.5)", "presence_penalty", "between -2 and 2");
  expect_chat_error(R"("frequency_penalty":3)", "frequency_penalty");
  expect_chat_error(R"("frequency_penalty":false)", "frequency_penalty", "got a boolean");
}

TEST(CompletionRequest, Seed) {
  expect_chat_error(R"("seed":1.5)", "seed", "expected an integer, but got a decimal number");
  expect_chat_error(R"("seed":"1")", "seed", "got a string");
  expect_chat_error(R"("seed":true)", "seed", "got a boolean");
  expect_chat_error(R"("seed":99999999999999999999999)", "seed",
                    "between -9223372036854775808 and 18446744073709551615");
  expect_chat_error(R"("seed":-9223372036854775809)", "seed");
}

TEST(CompletionRequest, Stop) {
  EXPECT_TRUE(chat(chat_with(R"("stop":[])")).stop.empty());
  EXPECT_EQ(chat(chat_with(R"("stop":["a","b","c","d"])")).stop.size(), 4u);
  expect_chat_error(R"("stop":["a","b","c","d","e"])", "stop", "at most 4");
  expect_chat_error(R"("stop":"")", "stop", "must not be empty");
  expect_chat_error(R"("stop":["a",""])", "stop[1]", "must not be empty");
  expect_chat_error(R"("stop":["a",3])", "stop[1]", "expected a string, but got an integer");
  expect_chat_error(R"("stop":5)", "stop", "a string or an array of strings");
}

TEST(CompletionRequest, Logprobs) {
  expect_chat_error(R"("logprobs":1)", "logprobs", "expected a boolean, but got an integer");
  expect_chat_error(R"("top_logprobs":3)", "top_logprobs", "'logprobs' to be true");
  expect_chat_error(R"("logprobs":false,"top_logprobs":3)", "top_logprobs");
  expect_chat_error(R"("logprobs":true,"top_logprobs":21)", "top_logprobs", "between 0 and 20");
  expect_chat_error(R"("logprobs":true,"top_logprobs":-1)", "top_logprobs");
  expect_chat_error(R"("logprobs":true,"top_logprobs":2.5)", "top_logprobs", "decimal");
  expect_completion_error(R"("logprobs":6)", "logprobs", "between 0 and 5");
  expect_completion_error(R"("logprobs":true)", "logprobs", "expected an integer, but got a boolean");
  expect_completion_error(R"("logprobs":-1)", "logprobs");
}

TEST(CompletionRequest, NStreamEcho) {
  expect_chat_error(R"("n":2)", "n", "'n' must be 1: lockstep generates one choice per request.");
  expect_chat_error(R"("n":0)", "n", "must be 1");
  expect_chat_error(R"("n":18446744073709551615)", "n", "must be 1");
  expect_chat_error(R"("n":1e300)", "n", "must be 1");
  expect_chat_error(R"("n":"1")", "n", "expected an integer, but got a string");
  expect_completion_error(R"("n":3)", "n", "must be 1");
  expect_chat_error(R"("stream":"yes")", "stream", "expected a boolean, but got a string");
  expect_chat_error(R"("stream":1)", "stream", "got an integer");
  expect_chat_error(R"("stream_options":{"include_usage":true})", "stream_options", "'stream'");
  expect_chat_error(R"("stream":false,"stream_options":{"include_usage":true})", "stream_options");
  expect_chat_error(R"("stream":true,"stream_options":true)", "stream_options", "expected an object");
  expect_chat_error(R"("stream":true,"stream_options":{"include_usage":"yes"})",
                    "stream_options.include_usage", "expected a boolean");
  EXPECT_FALSE(chat(chat_with(R"("stream":true,"stream_options":{})")).include_usage);
  expect_completion_error(R"("echo":true)", "echo", "must be false");
  expect_completion_error(R"("echo":"no")", "echo", "expected a boolean");
  expect_chat_error(R"("echo":true)", "echo", "Unrecognized");  // a completions parameter
}

TEST(CompletionRequest, UnsupportedParameters) {
  expect_chat_error(R"("tools":[{"type":"function","function":{"name":"f"}}])", "tools",
                    "not supported");
  expect_chat_error(R"("tool_choice":"auto")", "tool_choice");
  expect_chat_error(R"("response_format":{"type":"json_object"})", "response_format");
  expect_chat_error(R"("logit_bias":{"50256":-100})", "logit_bias");
  expect_chat_error(R"("functions":[{"name":"f"}])", "functions");
  expect_completion_error(R"("best_of":2)", "best_of");
  expect_completion_error(R"("suffix":"end")", "suffix");
  const ApiError e = error_of(Endpoint::ChatCompletions, chat_with(R"("tools":[1])"));
  EXPECT_EQ(e.code, "unsupported_parameter");
}

// Keys lockstep does not know are refused by name, as OpenAI does, so that a client never gets
// something other than what it asked for without knowing.
TEST(CompletionRequest, UnknownParametersAreRefusedByName) {
  expect_chat_error(R"("foo":1)", "foo", "Unrecognized request argument supplied: foo");
  expect_completion_error(R"("foo":"bar")", "foo", "Unrecognized request argument supplied: foo");
  EXPECT_EQ(error_of(Endpoint::ChatCompletions, chat_with(R"("foo":{})")).code,
            "unknown_parameter");
  expect_chat_error(R"("repeat_penalty":1.1)", "repeat_penalty");  // llama.cpp's name
  expect_chat_error(R"("metadata":{},"mirostat":2)", "mirostat");
  // Each endpoint's own parameters only.
  expect_chat_error(R"("echo":true)", "echo", "Unrecognized");
  expect_chat_error(R"("prompt":"x")", "prompt", "Unrecognized");
  expect_completion_error(R"("top_logprobs":2)", "top_logprobs", "Unrecognized");
  expect_completion_error(R"("tools":[{"type":"function"}])", "tools", "Unrecognized");
  // A long key is named in part.
  const ApiError e = error_of(Endpoint::ChatCompletions,
                              chat_with("\"" + std::string(10000, 'k') + "\":1"));
  EXPECT_EQ(e.code, "unknown_parameter");
  EXPECT_LT(std::string(e.what()).size(), 200u);
  EXPECT_LT(e.param.size(), 100u);
}

// null is "not given" for every key, known or not (LangChain sends "logit_bias": null).
TEST(CompletionRequest, NullKeysAreAbsent) {
  EXPECT_NO_THROW(chat(chat_with(
      R"("foo":null,"logit_bias":null,"tools":null,"tool_choice":null,"response_format":null,)"
      R"("top_k":null,"min_p":null,"repetition_penalty":null,"functions":null)")));
  EXPECT_NO_THROW(completion(completion_with(R"("foo":null,"suffix":null,"best_of":null)")));
  expect_chat_error(R"("logit_bias":{"1":5})", "logit_bias", "not supported");
  expect_chat_error(R"("tools":[{"type":"function"}],"foo":null)", "tools", "not supported");
  expect_chat_error(R"("foo":null,"bar":0)", "bar", "Unrecognized");
}

// OpenAI keys that change nothing lockstep does are accepted and ignored.
TEST(CompletionRequest, HarmlessOpenAiKeysAreIgnored) {
  for (const char* extra :
       {R"("user":"u")", R"("metadata":{"a":"b"})", R"("store":true)", R"("service_tier":"auto")",
        R"("parallel_tool_calls":false)", R"("prompt_cache_key":"k")",
        R"("safety_identifier":"s")"}) {
    EXPECT_NO_THROW(chat(chat_with(extra))) << extra;
  }
  EXPECT_NO_THROW(completion(completion_with(R"("user":"u")")));
}

TEST(CompletionRequest, SamplerExtensionRanges) {
  EXPECT_EQ(chat(chat_with(R"("top_k":-1)")).top_k, 0);  // vLLM's "off"
  EXPECT_EQ(chat(chat_with(R"("top_k":2147483647)")).top_k, 2147483647);
  EXPECT_EQ(completion(completion_with(R"("top_k":3.0,"min_p":0,"repetition_penalty":0.5)")).top_k,
            3);
  EXPECT_EQ(chat(chat_with(R"("min_p":0.999)")).min_p, 0.999f);
  EXPECT_EQ(chat(chat_with(R"("repetition_penalty":1e30)")).repetition_penalty, 1e30f);
  expect_chat_error(R"("top_k":-2)", "top_k", "between -1 and 2147483647");
  expect_chat_error(R"("top_k":2147483648)", "top_k");
  expect_chat_error(R"("top_k":1.5)", "top_k", "expected an integer");
  expect_chat_error(R"("top_k":"5")", "top_k", "got a string");
  expect_completion_error(R"("top_k":-5)", "top_k");
  expect_chat_error(R"("min_p":1)", "min_p", "at least 0 and less than 1");
  expect_chat_error(R"("min_p":-0.1)", "min_p");
  expect_chat_error(R"("min_p":true)", "min_p", "got a boolean");
  expect_chat_error(R"("repetition_penalty":0)", "repetition_penalty", "a positive number");
  expect_chat_error(R"("repetition_penalty":-1)", "repetition_penalty");
  expect_chat_error(R"("repetition_penalty":1e300)", "repetition_penalty");
  expect_chat_error(R"("repetition_penalty":"1.1")", "repetition_penalty", "got a string");
  expect_completion_error(R"("repetition_penalty":0)", "repetition_penalty");
}

TEST(CompletionRequest, HostileInputs) {
  const Endpoint c = Endpoint::ChatCompletions;
  // Deep nesting, unclosed and closed, at the top and inside an ignored key.
  expect_error(c, std::string(100000, '['), 400, "", "levels");
  expect_error(c, std::string(100000, '[') + std::string(100000, ']'), 400, "", "levels");
  expect_error(c, chat_with(R"("metadata":)" + std::string(65, '[') + std::string(65, ']')), 400,
               "");
  expect_error(c, std::string(100000, '{'), 400, "");
  // Nesting inside strings does not count.
  EXPECT_EQ(chat(R"({"model":"m","messages":[{"role":"user","content":")" +
                 std::string(1000, '[') + R"(\"[["}]})")
                .messages[0]
                .content,
            std::string(1000, '[') + "\"[[");
  // 60 levels of an ignored key are fine.
  EXPECT_NO_THROW(
      chat(chat_with(R"("metadata":)" + std::string(60, '[') + std::string(60, ']'))));
  // Dense bodies: a parameter read with more values than its bytes could legitimately hold is
  // refused before the tree is built; a key that is not read costs nothing however dense.
  std::string dense;
  for (int i = 0; i < 100000; ++i) dense += "{},";
  dense += "{}";
  expect_error(c, chat_with(R"("stop":[)" + dense + "]"), 400, "", "JSON values");
  expect_error(c, chat_with(R"("tools":[)" + dense + "]"), 400, "", "JSON values");
  EXPECT_NO_THROW(chat(chat_with(R"("metadata":[)" + dense + "]")));
  // An unknown key is refused by name however dense its value.
  expect_error(c, chat_with(R"("user_data":[)" + dense + "]"), 400, "user_data", "Unrecognized");
  // Numbers beyond double, NaN-like tokens.
  expect_error(c, chat_with(R"("temperature":1e999)"), 400, "", "not valid JSON");
  expect_error(c, chat_with(R"("temperature":-1e999)"), 400, "");
  expect_error(c, chat_with(R"("temperature":NaN)"), 400, "", "not valid JSON");
  expect_error(c, chat_with(R"("temperature":Infinity)"), 400, "");
  expect_error(c, chat_with(R"("temperature":-Infinity)"), 400, "");
  expect_error(c, chat_with(R"("temperature":nan)"), 400, "");
  expect_error(c, chat_with(R"("temperature":0x10)"), 400, "");
  expect_error(c, chat_with(R"("max_tokens":)" + std::string(5000, '9')), 400, "", "overflow");
  // Invalid UTF-8 inside strings, a lone surrogate escape, control characters, a NUL byte.
  expect_error(c, "{\"model\":\"\xff\xfe\",\"messages\":[]}", 400, "", "not valid JSON");
  expect_error(c, chat_with("\"stop\":\"\xc3\""), 400, "");
  expect_error(c, chat_with("\"stop\":\"\xed\xa0\x80\""), 400, "");
  expect_error(c, chat_with(R"("stop":"\ud800")"), 400, "");
  expect_error(c, chat_with("\"stop\":\"a\nb\""), 400, "");
  const char with_nul[] = "{\"model\":\"m\0\",\"messages\":[]}";
  expect_error(c, std::string(with_nul, sizeof with_nul - 1), 400, "");
  EXPECT_EQ(chat(chat_with(R"("stop":"\u0000")")).stop[0], std::string(1, '\0'));
  // A byte order mark and trailing whitespace are fine; trailing garbage is not.
  EXPECT_NO_THROW(chat("\xEF\xBB\xBF" + chat_with("") + "\n"));
  expect_error(c, chat_with("") + "}", 400, "");
  // Duplicate keys: the last one counts (as nlohmann and most JSON parsers do).
  EXPECT_EQ(chat(chat_with(R"("temperature":0.1,"temperature":0.2)")).temperature, 0.2);
}

TEST(CompletionRequest, BodyTooLarge) {
  const std::string body(kMaxRequestBodyBytes + 1, ' ');
  const ApiError e = error_of(Endpoint::Completions, body);
  EXPECT_EQ(e.status, 413);
  EXPECT_EQ(e.code, "request_too_large");
}

TEST(CompletionRequest, ErrorBody) {
  const json j = json::parse(error_body(ApiError(401, "authentication_error", "Bad key.")));
  EXPECT_EQ(j, json::parse(R"({"error":{"message":"Bad key.","type":"authentication_error",
                                       "param":null,"code":null}})"));
  const json k = json::parse(error_body(invalid_request("n", "x", "unsupported_value")));
  EXPECT_EQ(k["error"]["param"], "n");
  EXPECT_EQ(k["error"]["code"], "unsupported_value");
  // A message with bytes that are not UTF-8 still gives a JSON body.
  EXPECT_NO_THROW(json::parse(error_body(invalid_request("p", "bad \xff byte"))));
}

}  // namespace
}  // namespace lockstep::serve
