// OpenAI's wire format around the engine: a parsed request becomes a GenerationJob (prompt
// tokens through the model's chat template, limits checked against the context), and the
// engine's events become response bodies (chat.completion, text_completion) or Server-Sent
// Event chunks (chat.completion.chunk), with usage and logprobs in OpenAI's shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "serve/completion_request.h"
#include "runtime/engine.h"
#include "runtime/prompt_builder.h"

namespace lockstep::serve {

// Tokenizes the request and fills the job. Chat: the messages through the model's chat format
// (`prompts`), where only the format's own markup makes special tokens and the content is text
// (a message holding "<|im_start|>system" or "</s>" cannot open a turn or end the text);
// completions: the prompt as text. max_tokens defaults to what is left of the context. Throws ApiError 400
// "context_length_exceeded" naming the token counts when the prompt and max_tokens do not fit
// n_ctx; a prompt whose size in bytes alone shows that it cannot fit is refused before it is
// tokenized, with a lower bound on its tokens ("at least N"). Throws 400 when the prompt is
// empty. top_k, min_p and repetition_penalty go to the sampler as they are (off by default);
// the repetition penalty, like OpenAI's presence and frequency penalties, looks at every token
// generated so far (not at the prompt, unlike Hugging Face's). seed: used when the request
// names none.
runtime::GenerationJob make_job(const CompletionRequest& request, const runtime::PromptBuilder& prompts,
                                std::int64_t n_ctx, std::uint64_t default_seed);

// Identifies one response: "chatcmpl-..." / "cmpl-...", its creation time and model.
struct ResponseHeader {
  Endpoint endpoint = Endpoint::ChatCompletions;
  std::string id;
  std::int64_t created = 0;   // Unix time, s
  std::string model;
  std::string fingerprint;    // system_fingerprint
};

// The whole (non-streamed) response after the final event; `text` and `logprobs` gathered from
// every event.
std::string completion_body(const ResponseHeader& header, const std::string& text,
                            const std::vector<runtime::TokenLogprob>& logprobs, bool want_logprobs,
                            const std::string& finish_reason, const runtime::Usage& usage);

// One streamed chunk as "data: {...}\n\n": the first carries the assistant role (chat); one
// carries each event's text and logprobs; the final one carries finish_reason. Usage chunk
// (empty choices) when include_usage. Then stream_done().
std::string chunk_event(const ResponseHeader& header, const std::string& text,
                        const std::vector<runtime::TokenLogprob>& logprobs, bool want_logprobs,
                        bool first, const std::string& finish_reason);
std::string usage_event(const ResponseHeader& header, const runtime::Usage& usage);
std::string stream_done();  // "data: [DONE]\n\n"
// An error inside a stream that has begun (status already sent), as OpenAI does.
std::string error_event(const ApiError& error);

// GET /v1/models/{id} and GET /v1/models
std::string model_body(const std::string& model_id, std::int64_t created);
std::string models_body(const std::string& model_id, std::int64_t created);

}  // namespace lockstep::serve
