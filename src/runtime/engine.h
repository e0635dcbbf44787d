// The serving engine: one thread that owns the backend and runs every sequence. Requests queue
// (bounded); a sequence takes a KV-cache slot (runtime/slot_table.h: the longest cached prefix of
// its prompt is reused), is prefilled in chunks, then decodes one token per step together with
// the other running sequences, all in one batched backend step (Backend::forward_rows).
//
// Latency first: a waiting sequence joins the running ones only while the step time predicted
// for the larger batch stays under the inter-token latency target, and a prompt's prefill is cut
// into chunks sized so that the step carrying it also stays under the target (the sequences
// already decoding keep their pace). The step-time model is learned from the steps run.
//
// Determinism: a sequence's tokens depend only on its prompt, its sampling settings and seed,
// never on which sequences ran beside it or on what was cached (the CPU backend gives a row the
// same bits whatever else runs; cpu_backend.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/backend.h"
#include "runtime/sampler.h"
#include "runtime/metrics.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::runtime {

struct EngineOptions {
  int max_sequences = 4;            // sequences decoded together at most
  int max_queue = 64;               // requests waiting for a slot at most (then 429)
  double itl_target_seconds = 0;    // inter-token latency target; 0 = 1.5 x a lone sequence's step
  std::int64_t max_prefill_chunk = 256;  // prompt tokens per step at most
};

// What one sequence should do: prompt tokens in, up to max_tokens out.
struct GenerationJob {
  std::vector<std::int32_t> prompt;     // >= 1 token, fits the context with max_tokens
  std::int64_t max_tokens = 16;         // >= 1
  runtime::SamplingParams sampling;     // penalties apply over the generated tokens
  std::vector<std::string> stop;        // stop strings
  int logprobs = -1;                    // -1: none; else alternatives per token (0..20)
};

struct TokenLogprob {
  std::string token;                    // the token's text (raw bytes of its piece)
  double logprob = 0;                   // natural log of its probability under the model
  std::vector<std::pair<std::string, double>> top;  // [logprobs] most likely, best first
};

struct Usage {
  std::int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};

// What the engine reports to a request, in order: text as it is released, then one final event.
struct StreamEvent {
  std::string text;                     // newly released text (may be empty)
  std::vector<TokenLogprob> logprobs;   // for the tokens generated since the last event
  bool finished = false;
  std::string finish_reason;            // "stop" or "length" (when finished)
  Usage usage;                          // when finished
  std::string error;                    // when finished by a server-side failure
};

// The request's side of a running sequence. Thread-safe.
class RequestStream {
 public:
  // Takes every event queued so far, waiting up to `timeout` for one; empty = none yet.
  std::vector<StreamEvent> take(std::chrono::milliseconds timeout);
  // Takes every event queued so far without waiting.
  std::vector<StreamEvent> take_ready() { return take(std::chrono::milliseconds(0)); }
  // Calls `listener` (on the engine's thread, so it must only hand off: post to an event loop,
  // notify) after every event from now on; replaces the previous listener, an empty function
  // removes it. Once this returns, the previous listener is not running and will not run again.
  void on_event(std::function<void()> listener);
  // The client went away: the engine drops the sequence and frees its slot at its next step
  // (a queued request is dropped before it starts).
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  std::uint64_t seed() const { return seed_; }

 private:
  friend class Engine;
  void push(StreamEvent event);
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<StreamEvent> events_;
  std::function<void()> listener_;  // guarded by mutex_
  std::atomic<bool> cancelled_{false};
  std::uint64_t seed_ = 0;
};

// Why submit() refused a request.
struct Overloaded {
  double retry_after_seconds;  // a guess at when a slot frees up
  bool shutting_down = false;  // the engine is stopping (503), rather than full (429)
};

class Engine {
 public:
  // The backend and tokenizer must outlive the engine; the metrics too.
  Engine(runtime::Backend& backend, const tokenizer::Tokenizer& tokenizer,
         const EngineOptions& options, Metrics& metrics);
  ~Engine();  // stop()

  // Queues a job; throws Overloaded when the queue is full or the engine is stopping or
  // draining. The job must fit the context.
  std::shared_ptr<RequestStream> submit(GenerationJob job);

  // Graceful drain: from now on submit() refuses (Overloaded, shutting_down) while what is
  // queued or running goes on to its end.
  void stop_accepting();
  // Nothing queued and nothing running.
  bool idle() const;
  // Ends every queued and running request with an error event ("the server is shutting down")
  // and stops the engine's thread. Idempotent; submit() refuses afterwards.
  void stop();

  std::int64_t context_length() const { return backend_.context_length(); }
  int slots() const { return slots_; }
  const EngineOptions& options() const { return options_; }
  // The inter-token latency target in use, s (0 until learned when automatic).
  double itl_target_seconds() const;

 private:
  struct Sequence;
  void run();
  void admit();
  void step();
  void finish(Sequence& s, const std::string& reason);
  // Drops finished sequences and publishes how many run (idle(), the gauges).
  void drop_finished();
  double predicted_decode_seconds(int batch) const;

  runtime::Backend& backend_;
  const tokenizer::Tokenizer& tokenizer_;
  EngineOptions options_;
  Metrics& metrics_;
  int slots_;

  mutable std::mutex mutex_;  // guards pending_, stopping_, learned timings read by others
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> pending_;
  int running_count_ = 0;       // running_.size() as of the last admit / step
  bool accepting_ = true;
  bool stopping_ = false;

  // Engine thread only.
  std::vector<std::unique_ptr<Sequence>> running_;
  std::unique_ptr<class SlotTable> slot_table_;
  std::vector<double> decode_seconds_;  // [max_sequences + 1] EMA of decode-only step time by batch
  double prefill_seconds_per_token_ = 0;  // EMA, from steps carrying prefill rows
  double itl_target_ = 0;
  double mean_request_seconds_ = 1.0;   // EMA, for Retry-After
  std::vector<runtime::Backend::Row> rows_;
  std::vector<float> logits_;
  std::thread thread_;
};

}  // namespace lockstep::runtime
