#include "runtime/engine.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "runtime/logprobs.h"
#include "runtime/slot_table.h"
#include "runtime/stop_strings.h"
#include "tokenizer/streaming_decoder.h"

namespace lockstep::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Exponential moving average; a first sample (old == 0) is taken as it is.
double blend(double old, double sample) { return old > 0 ? 0.7 * old + 0.3 * sample : sample; }

}  // namespace

// --- RequestStream ---------------------------------------------------------------------------

std::vector<StreamEvent> RequestStream::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [&] { return !events_.empty(); });
  std::vector<StreamEvent> out(std::make_move_iterator(events_.begin()),
                               std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

void RequestStream::push(StreamEvent event) {
  std::lock_guard lock(mutex_);
  events_.push_back(std::move(event));
  ready_.notify_all();
  if (listener_) listener_();
}

void RequestStream::on_event(std::function<void()> listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}


// --- Engine ----------------------------------------------------------------------------------

struct Engine::Sequence {
  Sequence(GenerationJob j, const tokenizer::Tokenizer& tokenizer)
      : job(std::move(j)),
        stream(std::make_shared<RequestStream>()),
        arrival(Clock::now()),
        sampler(job.sampling),
        decoder(tokenizer),
        stops(job.stop) {
    stream->seed_ = job.sampling.seed;
  }

  GenerationJob job;
  std::shared_ptr<RequestStream> stream;
  Clock::time_point arrival, last_token;
  runtime::Sampler sampler;
  tokenizer::StreamingDecoder decoder;
  StopStrings stops;
  int slot = -1;
  std::int64_t cached = 0;                 // prompt positions reused from the prompt cache
  std::int64_t fed = 0;                    // prompt positions whose keys/values are in the slot
  std::vector<std::int32_t> generated;     // sampled so far; the last is not in the cache yet
  bool done = false;

  // The text still held back (an incomplete character, a possible stop string's start) at the end.
  std::string flush() {
    std::string text = stops.push(decoder.finish());
    return text + stops.finish();
  }

  bool decoding() const { return fed == static_cast<std::int64_t>(job.prompt.size()); }
  std::int64_t next_position() const {     // where generated.back() goes
    return static_cast<std::int64_t>(job.prompt.size() + generated.size()) - 1;
  }
};

Engine::Engine(runtime::Backend& backend, const tokenizer::Tokenizer& tokenizer,
               const EngineOptions& options, Metrics& metrics)
    : backend_(backend), tokenizer_(tokenizer), options_(options), metrics_(metrics) {
  options_.max_sequences = std::clamp(options_.max_sequences, 1, backend_.slots());
  options_.max_queue = std::max(options_.max_queue, 0);
  options_.max_prefill_chunk = std::max<std::int64_t>(options_.max_prefill_chunk, 1);
  slots_ = backend_.slots();
  slot_table_ = std::make_unique<SlotTable>(slots_);
  decode_seconds_.assign(static_cast<std::size_t>(options_.max_sequences) + 1, 0.0);
  itl_target_ = options_.itl_target_seconds;
  thread_ = std::thread([this] { run(); });
}

Engine::~Engine() { stop(); }

void Engine::stop_accepting() {
  std::lock_guard lock(mutex_);
  accepting_ = false;
}

bool Engine::idle() const {
  std::lock_guard lock(mutex_);
  return pending_.empty() && running_count_ == 0;
}

void Engine::stop() {
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

double Engine::itl_target_seconds() const {
  std::lock_guard lock(mutex_);
  return itl_target_;
}

std::shared_ptr<RequestStream> Engine::submit(GenerationJob job) {
  auto sequence = std::make_unique<Sequence>(std::move(job), tokenizer_);
  auto stream = sequence->stream;
  {
    std::lock_guard lock(mutex_);
    if (!accepting_) throw Overloaded{5.0, true};
    if (static_cast<int>(pending_.size()) >= options_.max_queue) {
      const double waves = static_cast<double>(pending_.size()) / options_.max_sequences + 1;
      throw Overloaded{std::max(1.0, std::ceil(mean_request_seconds_ * waves))};
    }
    pending_.push_back(std::move(sequence));
    metrics_.queue_depth.store(static_cast<std::int64_t>(pending_.size()));
  }
  wake_.notify_all();
  return stream;
}

double Engine::predicted_decode_seconds(int batch) const {
  const auto b = static_cast<std::size_t>(std::clamp(batch, 1, options_.max_sequences));
  if (decode_seconds_[b] > 0) return decode_seconds_[b];
  // Not measured yet: from the largest smaller batch that was, 10% more per added sequence
  // (decode streams the weights once for the whole batch). Optimistic on purpose, so that
  // larger batches get tried and measured.
  for (std::size_t k = b - 1; k >= 1; --k)
    if (decode_seconds_[k] > 0) return decode_seconds_[k] * (1.0 + 0.1 * static_cast<double>(b - k));
  return 0;
}

void Engine::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !pending_.empty() || !running_.empty(); });
      if (stopping_) break;
    }
    admit();
    if (!running_.empty()) step();
  }
  // Shutting down: everything still queued or running ends with an error event.
  std::lock_guard lock(mutex_);
  auto fail_all = [](Sequence& s) {
    StreamEvent e;
    e.finished = true;
    e.error = "the server is shutting down";
    s.stream->push(std::move(e));
  };
  for (auto& s : pending_) fail_all(*s);
  for (auto& s : running_) fail_all(*s);
  pending_.clear();
  running_.clear();
  running_count_ = 0;
  metrics_.queue_depth.store(0);
  metrics_.active_sequences.store(0);
}

void Engine::admit() {
  std::lock_guard lock(mutex_);
  while (!pending_.empty() && static_cast<int>(running_.size()) < options_.max_sequences &&
         slot_table_->idle() > 0) {
    if (pending_.front()->stream->cancelled()) {
      pending_.pop_front();
      continue;
    }
    // Latency first: join the running sequences only while the batch's step stays on target.
    // A batch measured over target is re-tried after a while (its figure decays 0.1% for every
    // step it is refused: one 10% over target waits about 100 steps), so one noisy measurement
    // does not shut it out for good.
    const int batch = static_cast<int>(running_.size()) + 1;
    if (!running_.empty() && itl_target_ > 0 && predicted_decode_seconds(batch) > itl_target_) {
      decode_seconds_[static_cast<std::size_t>(batch)] *= 0.999;
      break;
    }
    std::unique_ptr<Sequence> s = std::move(pending_.front());
    pending_.pop_front();
    const SlotGrant grant = slot_table_->acquire(s->job.prompt);
    if (grant.copy_from >= 0) backend_.copy_cache(grant.copy_from, grant.slot, grant.reused);
    s->slot = grant.slot;
    s->cached = s->fed = grant.reused;
    if (grant.reused > 0) {
      metrics_.prompt_cache_hits.fetch_add(1);
      metrics_.prompt_cache_hit_tokens.fetch_add(static_cast<std::uint64_t>(grant.reused));
    }
    running_.push_back(std::move(s));
  }
  running_count_ = static_cast<int>(running_.size());
  metrics_.queue_depth.store(static_cast<std::int64_t>(pending_.size()));
  metrics_.active_sequences.store(static_cast<std::int64_t>(running_.size()));
}

void Engine::step() {
  // Cancelled sequences leave first; their slots keep what was written.
  for (auto& s : running_)
    if (s->stream->cancelled()) finish(*s, "cancelled");
  drop_finished();
  if (running_.empty()) return;

  // Rows: one prefill chunk (the oldest sequence still prefilling), then one row per decoding
  // sequence. Logits come from the chunk's last row when it ends the prompt, and every decode row.
  rows_.clear();
  Sequence* prefill = nullptr;
  int decoders = 0;
  for (auto& s : running_) {
    if (s->decoding()) ++decoders;
    else if (!prefill) prefill = s.get();
  }
  std::int64_t chunk = 0;
  bool prefill_ends = false;
  if (prefill) {
    chunk = options_.max_prefill_chunk;
    if (decoders > 0 && itl_target_ > 0 && prefill_seconds_per_token_ > 0) {
      const double spare = itl_target_ - predicted_decode_seconds(decoders);
      chunk = std::clamp<std::int64_t>(static_cast<std::int64_t>(spare / prefill_seconds_per_token_),
                                       1, options_.max_prefill_chunk);
    }
    const auto remaining = static_cast<std::int64_t>(prefill->job.prompt.size()) - prefill->fed;
    chunk = std::min(chunk, remaining);
    prefill_ends = chunk == remaining;
    for (std::int64_t i = 0; i < chunk; ++i)
      rows_.push_back({prefill->job.prompt[static_cast<std::size_t>(prefill->fed + i)], prefill->slot,
                       prefill->fed + i});
  }
  for (auto& s : running_)
    if (s->decoding()) rows_.push_back({s->generated.back(), s->slot, s->next_position()});
  const auto n = static_cast<std::int64_t>(rows_.size());
  const std::int64_t first_logit_row = prefill_ends ? chunk - 1 : (decoders > 0 ? chunk : n - 1);
  const auto n_vocab = static_cast<std::size_t>(backend_.model().config.n_vocab);
  logits_.resize(static_cast<std::size_t>(n - first_logit_row) * n_vocab);

  const auto start = Clock::now();
  try {
    backend_.forward_rows(rows_, first_logit_row, logits_);
  } catch (const std::exception& e) {
    for (auto& s : running_) {
      StreamEvent event;
      event.finished = true;
      event.error = e.what();
      s->stream->push(std::move(event));
      slot_table_->write(s->slot, 0, {});
      slot_table_->release(s->slot);
    }
    running_.clear();
    drop_finished();
    return;
  }
  const auto now = Clock::now();
  const double seconds = seconds_between(start, now);

  // Learn the step-time model.
  {
    std::lock_guard lock(mutex_);
    if (chunk == 0) {
      auto& t = decode_seconds_[static_cast<std::size_t>(decoders)];
      t = blend(t, seconds);
      if (options_.itl_target_seconds <= 0 && decoders == 1) itl_target_ = 1.5 * t;
    } else {
      const double decode_part = decoders > 0 ? predicted_decode_seconds(decoders) : 0.0;
      prefill_seconds_per_token_ =
          blend(prefill_seconds_per_token_, std::max(seconds - decode_part, 0.0) / static_cast<double>(chunk));
    }
  }
  if (decoders > 0) metrics_.decode_batch_size.observe(decoders);

  // Record what each slot now holds, then sample.
  if (prefill) {
    slot_table_->write(prefill->slot, prefill->fed,
                       std::span(prefill->job.prompt).subspan(static_cast<std::size_t>(prefill->fed),
                                                             static_cast<std::size_t>(chunk)));
    prefill->fed += chunk;
  }
  std::size_t logit_row = 0;
  auto accept = [&](Sequence& s) {
    const std::span<const float> logits(logits_.data() + logit_row++ * n_vocab, n_vocab);
    StreamEvent event;
    const std::int32_t token = s.sampler.sample(logits, s.generated);
    if (s.job.logprobs >= 0) event.logprobs.push_back(token_logprob(logits, token, s.job.logprobs, tokenizer_));
    if (s.generated.empty()) {
      metrics_.time_to_first_token.observe(seconds_between(s.arrival, now));
    } else {
      metrics_.inter_token_latency.observe(seconds_between(s.last_token, now));
    }
    s.last_token = now;
    if (tokenizer_.is_end_of_generation(token)) {
      event.text = s.flush();
      s.stream->push(std::move(event));
      return finish(s, "stop");
    }
    s.generated.push_back(token);
    metrics_.generation_tokens.fetch_add(1);
    event.text = s.stops.push(s.decoder.push(token));
    if (s.stops.stopped()) {
      s.stream->push(std::move(event));
      return finish(s, "stop");
    }
    if (static_cast<std::int64_t>(s.generated.size()) >= s.job.max_tokens) {
      event.text += s.flush();
      s.stream->push(std::move(event));
      return finish(s, "length");
    }
    s.stream->push(std::move(event));
  };
  if (prefill && prefill_ends) accept(*prefill);
  for (auto& s : running_) {
    if (s.get() == prefill || !s->decoding() || s->done) continue;
    // The decode row fed generated.back() at next_position(): the slot holds it now.
    const std::int32_t fed_token = s->generated.back();
    slot_table_->write(s->slot, s->next_position(), std::span(&fed_token, 1));
    accept(*s);
  }
  drop_finished();
}

void Engine::drop_finished() {
  std::erase_if(running_, [](const auto& s) { return s->done; });
  std::lock_guard lock(mutex_);
  running_count_ = static_cast<int>(running_.size());
  metrics_.active_sequences.store(static_cast<std::int64_t>(running_.size()));
}

void Engine::finish(Sequence& s, const std::string& reason) {
  s.done = true;
  slot_table_->release(s.slot);
  const auto now = Clock::now();
  const double seconds = seconds_between(s.arrival, now);
  {
    std::lock_guard lock(mutex_);
    mean_request_seconds_ = blend(mean_request_seconds_, seconds);
  }
  if (reason == "cancelled") return;
  metrics_.request_duration.observe(seconds);
  metrics_.prompt_tokens.fetch_add(s.job.prompt.size());
  StreamEvent event;
  event.finished = true;
  event.finish_reason = reason;
  event.usage = {static_cast<std::int64_t>(s.job.prompt.size()),
                 static_cast<std::int64_t>(s.generated.size()), s.cached};
  s.stream->push(std::move(event));
}

}  // namespace lockstep::runtime
