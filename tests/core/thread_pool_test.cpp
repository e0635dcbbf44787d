// The thread pool: every index runs once, each writing its own slot, at any thread count; the
// lowest index's error is rethrown after all have run; the pool is reused across calls.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

namespace lockstep::core {
namespace {

TEST(ThreadPoolTest, EveryIndexRunsOnceAtAnyThreadCount) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{100}}) {
      std::vector<std::size_t> out(n, 0);
      pool.parallel_for(n, [&](std::size_t i) { out[i] += i * i + 1; });
      for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], i * i + 1);
    }
  }
}

TEST(ThreadPoolTest, TheLowestIndexErrorIsRethrownAfterAllRan) {
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  try {
    pool.parallel_for(10, [&](std::size_t i) {
      ++ran;
      if (i == 3 || i == 7) throw std::runtime_error("index " + std::to_string(i));
    });
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "index 3");
  }
  EXPECT_EQ(ran.load(), 10);
  int after = 0;
  pool.parallel_for(3, [&](std::size_t) {});
  pool.parallel_for(1, [&](std::size_t) { ++after; });
  EXPECT_EQ(after, 1);
}

}  // namespace
}  // namespace lockstep::core
