// An OpenAI-style completion request, parsed and validated from its JSON body: POST
// /v1/chat/completions (messages) or /v1/completions (prompt). Everything the engine needs is
// here with OpenAI's defaults filled in; anything malformed, of the wrong type or out of range
// throws ApiError with the HTTP status and the OpenAI error shape's fields, naming the parameter.
//
// Keys. A top-level key whose value is null is absent, whatever the key (clients send
// "logit_bias": null). Every other key is one of:
//   - a parameter lockstep reads (below);
//   - one OpenAI defines that lockstep does not implement: tools, tool_choice, functions,
//     function_call, response_format, audio, modalities, prediction, reasoning_effort,
//     web_search_options, verbosity (chat), logit_bias, best_of, suffix (completions). 400
//     "unsupported_parameter" naming it, unless its value changes nothing (an empty array or
//     object, tool_choice "none", response_format {"type": "text"}, best_of 1, suffix "");
//   - one that changes nothing lockstep does, accepted and ignored: user, metadata, store,
//     service_tier, parallel_tool_calls, prompt_cache_key, safety_identifier;
//   - anything else, including the other endpoint's parameters: 400 "unknown_parameter",
//     "Unrecognized request argument supplied: KEY" with param KEY, as OpenAI answers (a key
//     longer than 40 bytes is cut), so a client never gets less than it asked for unawares.
//
// Parameters read (both endpoints unless marked):
//   model (string, required), messages (chat: non-empty array of {role: system|user|assistant|
//   developer, content: string or array of {type:"text", text}}; "developer" is read as
//   "system"), prompt (completions: string, or an array of exactly one string), max_tokens /
//   max_completion_tokens (chat) (integer >= 1; the smaller when both), temperature [0, 2],
//   top_p (0, 1], seed (integer; any int64, kept as its uint64 bits), stop (string or array of
//   up to 4 non-empty strings), presence_penalty / frequency_penalty [-2, 2], logprobs (chat:
//   bool, completions: integer 0..5 = top alternatives), top_logprobs (chat: 0..20, needs
//   logprobs true), n (only 1), stream (bool), stream_options ({include_usage: bool}, only with
//   stream), echo (completions; only false).
//   Sampler parameters beyond OpenAI's, by vLLM's names: top_k (integer -1 .. 2^31-1; -1 and 0
//   are off), min_p [0, 1) (0 = off), repetition_penalty (> 0; 1 = off), the last two as the
//   sampler's floats hold them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/prompt_builder.h"

namespace lockstep::serve {

enum class Endpoint { ChatCompletions, Completions };

struct CompletionRequest {
  Endpoint endpoint = Endpoint::ChatCompletions;
  std::string model;                               // as the client named it
  std::vector<runtime::ChatMessage> messages;    // chat: roles system / user / assistant
  std::string prompt;                              // completions
  std::optional<std::int64_t> max_tokens;          // nullopt: until end of text or context
  double temperature = 1.0;                        // 0 = greedy
  double top_p = 1.0;
  std::int32_t top_k = 0;                          // 0 = off
  double min_p = 0.0;                              // 0 = off
  double repetition_penalty = 1.0;                 // 1 = off
  std::optional<std::uint64_t> seed;               // nullopt: the server picks one
  std::vector<std::string> stop;                   // 0..4 strings, none empty
  double presence_penalty = 0.0, frequency_penalty = 0.0;
  bool logprobs = false;                           // report the chosen tokens' log-probabilities
  int top_logprobs = 0;                            // 0..20 alternatives per token
  bool stream = false;
  bool include_usage = false;                      // stream_options.include_usage
};

// An error the client caused (or a limit it hit), as OpenAI reports it:
//   {"error": {"message": ..., "type": ..., "param": ... or null, "code": ... or null}}
struct ApiError : std::runtime_error {
  ApiError(int status, std::string type, std::string message, std::string param = {},
           std::string code = {});
  int status;          // HTTP status: 400, 401, 404, 413, 429, 503 ...
  std::string type;    // "invalid_request_error", "authentication_error", ...
  std::string param;   // the offending parameter ("messages[1].role"), empty = null
  std::string code;    // machine-readable ("context_length_exceeded"), empty = null
};

// 400 invalid_request_error with param set.
ApiError invalid_request(std::string param, std::string message, std::string code = {});

// The JSON body of an error response.
std::string error_body(const ApiError& error);

// The largest body parse_completion_request reads (413 request_too_large above it); the HTTP
// layer can refuse bigger bodies before reading them with the same number. 8 MiB holds a
// 128k-token prompt several times over, escaped.
inline constexpr std::size_t kMaxRequestBodyBytes = std::size_t{8} << 20;

// Parses and validates a request body (any bytes: never crashes, never allocates more than a
// small multiple of body.size()). Throws ApiError (400) naming what is wrong; 413 above
// kMaxRequestBodyBytes. Bodies nested more than 64 levels deep are refused before parsing, and so
// are bodies with more JSON values in the parameters read than one per 6 bytes (+256); members
// that are not read (ignored keys, and unknown ones, which are refused after) are dropped while
// parsing, and of an unknown key only its first 64 bytes are kept for the message.
CompletionRequest parse_completion_request(Endpoint endpoint, std::string_view body);

}  // namespace lockstep::serve
