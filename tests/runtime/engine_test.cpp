// The serving engine on the embedded model and the CPU backend: a request's tokens do not
// depend on what runs beside it or on the prompt cache, the cache is used, limits and stop
// strings end sequences with the right reason, cancelled sequences free their slots, and a full
// queue refuses.
#include "runtime/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "model/model_loader.h"
#include "runtime/cpu_backend.h"
#include "support/paced_backend.h"

namespace lockstep::runtime {
namespace {

using namespace std::chrono_literals;

struct Result {
  std::string text;
  std::string finish_reason;
  Usage usage;
  std::size_t logprob_entries = 0;
};

Result wait(RequestStream& stream) {
  Result r;
  for (int i = 0; i < 600; ++i)
    for (StreamEvent& e : stream.take(100ms)) {
      r.text += e.text;
      r.logprob_entries += e.logprobs.size();
      if (e.finished) {
        EXPECT_EQ(e.error, "");
        r.finish_reason = e.finish_reason;
        r.usage = e.usage;
        return r;
      }
    }
  ADD_FAILURE() << "the request did not finish in 60 s";
  return r;
}

class EngineTest : public ::testing::Test {
 protected:
  // pace: the least time a step takes (testing::PacedBackend), so that a test can act while a
  // sequence still runs.
  void start(int slots, EngineOptions options = {}, std::chrono::milliseconds pace = 0ms) {
    model_ = model::load_embedded_model();
    runtime::CpuBackendOptions o;
    o.threads = 2;
    o.slots = slots;
    backend_ = runtime::make_cpu_backend(model_, 256, o);
    if (pace > 0ms) backend_ = std::make_unique<testing::PacedBackend>(std::move(backend_), pace);
    engine_ = std::make_unique<Engine>(*backend_, *model_->tokenizer, options, metrics_);
  }

  GenerationJob job(const std::string& prompt, std::int64_t max_tokens, std::uint64_t seed = 7,
                    float temperature = 0.8f) {
    GenerationJob j;
    j.prompt = model_->tokenizer->encode(prompt, true, false);
    j.max_tokens = max_tokens;
    j.sampling.temperature = temperature;
    j.sampling.top_k = 0;
    j.sampling.min_p = 0;
    j.sampling.repeat_penalty = 1;
    j.sampling.seed = seed;
    return j;
  }

  std::shared_ptr<const model::Model> model_;
  std::unique_ptr<runtime::Backend> backend_;
  Metrics metrics_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, OutputDoesNotDependOnNeighboursOrTheCache) {
  start(6);
  const std::string prompt = "And the LORD spake unto Moses, saying,";
  const Result alone = wait(*engine_->submit(job(prompt, 24)));
  EXPECT_EQ(alone.finish_reason, "length");
  EXPECT_EQ(alone.usage.completion_tokens, 24);

  // The same request among four others (different prompts and seeds), all at once.
  std::vector<std::shared_ptr<RequestStream>> others;
  for (int i = 0; i < 4; ++i)
    others.push_back(engine_->submit(job("In the beginning God created " + std::to_string(i), 30, 100 + i)));
  auto again = engine_->submit(job(prompt, 24));
  const Result crowded = wait(*again);
  for (auto& s : others) EXPECT_EQ(wait(*s).finish_reason, "length");
  EXPECT_EQ(crowded.text, alone.text);
  EXPECT_GT(crowded.usage.cached_tokens, 0);  // the first run left the prompt in a slot
  EXPECT_GT(metrics_.decode_batch_size.count(), 0u);
  EXPECT_GT(metrics_.decode_batch_size.sum() / metrics_.decode_batch_size.count(), 1.0)
      << "sequences were never decoded together";
  // A different seed changes a sampled text (over 24 tokens at temperature 0.8).
  EXPECT_NE(wait(*engine_->submit(job(prompt, 24, 8))).text, alone.text);
}

TEST_F(EngineTest, ASharedPrefixIsTakenFromTheCache) {
  start(4);
  const std::string system(
      "Thus saith the LORD, the King of Israel, and his redeemer the LORD of hosts; I am the "
      "first, and I am the last; and beside me there is no God. ");
  const Result first = wait(*engine_->submit(job(system + "Who", 4, 1, 0)));
  EXPECT_EQ(first.usage.cached_tokens, 0);
  const Result second = wait(*engine_->submit(job(system + "What", 4, 1, 0)));
  EXPECT_GT(second.usage.cached_tokens, 20);
  EXPECT_LT(second.usage.cached_tokens, second.usage.prompt_tokens);
  EXPECT_EQ(metrics_.prompt_cache_hits.load(), 1u);
}

TEST_F(EngineTest, StopStringsEndWithStopAndAreNotSent) {
  start(2);
  const Result free_run = wait(*engine_->submit(job("And God said, Let there be", 32, 3, 0)));
  ASSERT_GE(free_run.text.size(), 12u);
  // Stop at a word from the middle of the greedy text.
  const std::string stop = free_run.text.substr(free_run.text.size() / 2, 4);
  GenerationJob j = job("And God said, Let there be", 32, 3, 0);
  j.stop = {stop};
  const Result stopped = wait(*engine_->submit(j));
  EXPECT_EQ(stopped.finish_reason, "stop");
  EXPECT_EQ(stopped.text, free_run.text.substr(0, free_run.text.find(stop)));
}

TEST_F(EngineTest, LogprobsComeOnePerToken) {
  start(2);
  GenerationJob j = job("In the beginning", 6, 3, 0.5f);
  j.logprobs = 3;
  const Result r = wait(*engine_->submit(j));
  EXPECT_EQ(r.logprob_entries, 6u);
}

TEST_F(EngineTest, CancelledSequencesFreeTheirSlots) {
  start(1);
  auto doomed = engine_->submit(job("In the beginning", 200));
  doomed->take(2000ms);  // it has started
  doomed->cancel();
  // With one slot, the next request can only run once the cancelled one let go of it.
  const Result next = wait(*engine_->submit(job("Blessed are the", 5)));
  EXPECT_EQ(next.finish_reason, "length");
  for (int i = 0; i < 100 && metrics_.active_sequences.load() != 0; ++i)  // set after the step
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(metrics_.active_sequences.load(), 0);
}

TEST_F(EngineTest, AFullQueueRefusesWithARetryTime) {
  EngineOptions options;
  options.max_sequences = 1;
  options.max_queue = 1;
  start(1, options);
  std::vector<std::shared_ptr<RequestStream>> accepted;
  int refused = 0;
  for (int i = 0; i < 6; ++i) {
    try {
      accepted.push_back(engine_->submit(job("In the beginning", 100)));
    } catch (const Overloaded& o) {
      ++refused;
      EXPECT_GE(o.retry_after_seconds, 1.0);
    }
  }
  EXPECT_GE(refused, 3);
  for (auto& s : accepted) EXPECT_EQ(wait(*s).finish_reason, "length");
}


TEST_F(EngineTest, ACancelledSequenceLeavesWithoutAnotherRequest) {
  start(2, {}, 5ms);
  auto doomed = engine_->submit(job("In the beginning", 200));
  doomed->take(2000ms);  // it has started
  doomed->cancel();
  // Nothing else arrives: the gauge and idle() still see it go.
  for (int i = 0; i < 100 && metrics_.active_sequences.load() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(metrics_.active_sequences.load(), 0);
  EXPECT_TRUE(engine_->idle());
}

TEST_F(EngineTest, DrainingFinishesWhatRunsAndRefusesTheRest) {
  start(2, {}, 2ms);
  auto running = engine_->submit(job("In the beginning", 40));
  auto queued = engine_->submit(job("And God said", 10));
  engine_->stop_accepting();
  try {
    engine_->submit(job("Blessed are the", 5));
    ADD_FAILURE() << "a draining engine took a new request";
  } catch (const Overloaded& o) {
    EXPECT_TRUE(o.shutting_down);
  }
  EXPECT_EQ(wait(*running).finish_reason, "length");
  EXPECT_EQ(wait(*queued).finish_reason, "length");
  for (int i = 0; i < 100 && !engine_->idle(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(engine_->idle());
}

TEST_F(EngineTest, StoppingEndsWhatRunsWithAnErrorEvent) {
  start(1, {}, 5ms);
  auto running = engine_->submit(job("In the beginning", 250));
  running->take(2000ms);  // it has started
  engine_->stop();
  bool ended = false;
  for (StreamEvent& e : running->take(1000ms))
    if (e.finished) {
      ended = true;
      EXPECT_EQ(e.error, "the server is shutting down");
    }
  EXPECT_TRUE(ended);
  EXPECT_THROW(engine_->submit(job("x", 1)), Overloaded);
  engine_->stop();  // idempotent
}

TEST_F(EngineTest, AListenerHearsEveryEventAndCanBeRemoved) {
  start(1);
  auto stream = engine_->submit(job("In the beginning", 5));
  std::atomic<int> heard{0};
  stream->on_event([&] { ++heard; });
  const Result r = wait(*stream);
  EXPECT_EQ(r.finish_reason, "length");
  stream->on_event({});
  EXPECT_GE(heard.load(), 1);
  EXPECT_LE(heard.load(), 6);  // 5 tokens + the final event, some before the listener came
}

}  // namespace
}  // namespace lockstep::runtime
