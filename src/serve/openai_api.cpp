#include "serve/openai_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>

namespace lockstep::serve {
namespace {

using nlohmann::json;

// Text from the model may hold bytes that are not UTF-8 (a character cut by max_tokens):
// replaced, so that the JSON is always valid.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json bytes_of(const std::string& s) {
  json out = json::array();
  for (const unsigned char c : s) out.push_back(static_cast<int>(c));
  return out;
}

// Chat: {"content": [{token, logprob, bytes, top_logprobs: [...]}], "refusal": null}.
json chat_logprobs(const std::vector<runtime::TokenLogprob>& logprobs) {
  json content = json::array();
  for (const auto& lp : logprobs) {
    json top = json::array();
    for (const auto& [token, logprob] : lp.top)
      top.push_back({{"token", token}, {"logprob", logprob}, {"bytes", bytes_of(token)}});
    content.push_back({{"token", lp.token}, {"logprob", lp.logprob}, {"bytes", bytes_of(lp.token)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

// Completions: {"tokens": [...], "token_logprobs": [...], "top_logprobs": [{text: lp}], "text_offset": [...]}.
json completion_logprobs(const std::vector<runtime::TokenLogprob>& logprobs, std::size_t offset) {
  json tokens = json::array(), values = json::array(), tops = json::array(), offsets = json::array();
  for (const auto& lp : logprobs) {
    tokens.push_back(lp.token);
    values.push_back(lp.logprob);
    json top = json::object();
    for (const auto& [token, logprob] : lp.top) top[token] = logprob;
    tops.push_back(top);
    offsets.push_back(offset);
    offset += lp.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json usage_json(const runtime::Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json envelope(const ResponseHeader& h, bool chunk) {
  const bool chat = h.endpoint == Endpoint::ChatCompletions;
  return {{"id", h.id},
          {"object", chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"system_fingerprint", h.fingerprint}};
}

json reason_or_null(const std::string& reason) { return reason.empty() ? json(nullptr) : json(reason); }

// 400 context_length_exceeded. `prompt` tokens (a lower bound when `at_least`) and `completion`
// are each at most INT64_MAX, so their sum is exact in 64 unsigned bits.
ApiError context_exceeded(std::int64_t n_ctx, std::int64_t prompt, bool at_least,
                          std::int64_t completion, const char* param) {
  const std::uint64_t total =
      static_cast<std::uint64_t>(prompt) + static_cast<std::uint64_t>(completion);
  const char* bound = at_least ? "at least " : "";
  return invalid_request(
      param,
      fmt::format("This model's maximum context length is {} tokens. However, you requested {}{} "
                  "tokens ({}{} in the {}, {} for the completion). Please reduce the length of "
                  "the {} or the completion.",
                  n_ctx, bound, total, bound, prompt, param, completion, param),
      "context_length_exceeded");
}

}  // namespace

runtime::GenerationJob make_job(const CompletionRequest& request, const runtime::PromptBuilder& prompts,
                                std::int64_t n_ctx, std::uint64_t default_seed) {
  const bool chat = request.endpoint == Endpoint::ChatCompletions;
  const char* prompt_param = chat ? "messages" : "prompt";
  runtime::PromptText text;
  if (chat) {
    try {
      text = prompts.chat(request.messages);
    } catch (const std::exception& e) {  // a format's rule (roles must alternate, ...)
      throw invalid_request("messages", e.what());
    }
  } else {
    text = prompts.plain(request.prompt, /*parse_special=*/false);
  }
  const std::int64_t completion = request.max_tokens.value_or(1);  // at least one token

  // Refused from its size alone when even the fewest tokens it can be cannot fit, so that a
  // prompt of megabytes is not tokenized only to be refused.
  const std::int64_t at_least = prompts.min_token_count(text);
  if (at_least >= n_ctx) throw context_exceeded(n_ctx, at_least, true, completion, prompt_param);

  runtime::GenerationJob job;
  job.prompt = prompts.encode(text);
  const auto prompt = static_cast<std::int64_t>(job.prompt.size());
  if (prompt == 0) throw invalid_request(prompt_param, "The prompt is empty: there is no token to continue from.");
  const std::int64_t room = n_ctx - prompt;
  if (room < 1 || completion > room)
    throw context_exceeded(n_ctx, prompt, false, completion, prompt_param);
  job.max_tokens = request.max_tokens.value_or(room);
  job.sampling.temperature = static_cast<float>(request.temperature);
  job.sampling.top_k = request.top_k;
  job.sampling.top_p = static_cast<float>(request.top_p);
  job.sampling.min_p = static_cast<float>(request.min_p);
  job.sampling.repeat_penalty = static_cast<float>(request.repetition_penalty);
  // Over every token generated (the engine's history): no sequence is longer than the context.
  job.sampling.repeat_last_n = static_cast<std::int32_t>(
      std::min<std::int64_t>(n_ctx, std::numeric_limits<std::int32_t>::max()));
  job.sampling.presence_penalty = static_cast<float>(request.presence_penalty);
  job.sampling.frequency_penalty = static_cast<float>(request.frequency_penalty);
  job.sampling.seed = request.seed.value_or(default_seed);
  job.stop = request.stop;
  job.logprobs = request.logprobs ? request.top_logprobs : -1;
  return job;
}

std::string completion_body(const ResponseHeader& header, const std::string& text,
                            const std::vector<runtime::TokenLogprob>& logprobs, bool want_logprobs,
                            const std::string& finish_reason, const runtime::Usage& usage) {
  json body = envelope(header, false);
  json choice = {{"index", 0}, {"finish_reason", reason_or_null(finish_reason)}};
  if (header.endpoint == Endpoint::ChatCompletions) {
    choice["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
    choice["logprobs"] = want_logprobs ? chat_logprobs(logprobs) : json(nullptr);
  } else {
    choice["text"] = text;
    choice["logprobs"] = want_logprobs ? completion_logprobs(logprobs, 0) : json(nullptr);
  }
  body["choices"] = json::array({choice});
  body["usage"] = usage_json(usage);
  return dump(body);
}

std::string chunk_event(const ResponseHeader& header, const std::string& text,
                        const std::vector<runtime::TokenLogprob>& logprobs, bool want_logprobs,
                        bool first, const std::string& finish_reason) {
  json body = envelope(header, true);
  json choice = {{"index", 0}, {"finish_reason", reason_or_null(finish_reason)}};
  if (header.endpoint == Endpoint::ChatCompletions) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || first) delta["content"] = text;
    choice["delta"] = delta;
    choice["logprobs"] = want_logprobs && !logprobs.empty() ? chat_logprobs(logprobs) : json(nullptr);
  } else {
    choice["text"] = text;
    choice["logprobs"] = want_logprobs && !logprobs.empty() ? completion_logprobs(logprobs, 0) : json(nullptr);
  }
  body["choices"] = json::array({choice});
  return "data: " + dump(body) + "\n\n";
}

std::string usage_event(const ResponseHeader& header, const runtime::Usage& usage) {
  json body = envelope(header, true);
  body["choices"] = json::array();
  body["usage"] = usage_json(usage);
  return "data: " + dump(body) + "\n\n";
}

std::string stream_done() { return "data: [DONE]\n\n"; }

std::string error_event(const ApiError& error) { return "data: " + error_body(error) + "\n\n"; }

std::string model_body(const std::string& model_id, std::int64_t created) {
  return dump({{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "lockstep"}});
}

std::string models_body(const std::string& model_id, std::int64_t created) {
  return "{\"object\":\"list\",\"data\":[" + model_body(model_id, created) + "]}";
}

}  // namespace lockstep::serve
