// The order in which the simulator executes iterations: nondecreasing issue cycle across all
// queues, and within one cycle increasing rank (the caller's fixed order of queues). Each rank
// has at most one pending issue (a queue issues one iteration at a time).
//
// Near issues (< 64 cycles ahead) sit in a calendar of 64 buckets, each a bitset of ranks, with
// a mask of non-empty buckets; far issues wait in a min-heap until they come within range.
// A rank that issues every cycle (a Repeat with stride 1) is held in a "steady" bitset instead,
// drained every cycle with no scheduling at all until it is released. Scheduling and draining
// cost a few bit operations per iteration.
#pragma once

#include <bit>
#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

namespace lockstep::lpu {

class IssueCalendar {
 public:
  explicit IssueCalendar(int ranks)
      : words_((ranks + 63) / 64),
        buckets_(static_cast<std::size_t>(kWindow) * words_, 0),
        steady_(words_, 0) {}

  std::int64_t now() const { return now_; }

  // Sets the current cycle; only before anything is scheduled.
  void start(std::int64_t cycle) { now_ = cycle; }

  // Schedules `rank` to issue at `cycle` (> now(), or == now() before the first drain).
  [[gnu::always_inline]] void schedule(int rank, std::int64_t cycle) {
    if (cycle - now_ < kWindow) {
      const int bucket = static_cast<int>(static_cast<std::uint64_t>(cycle) & (kWindow - 1));
      buckets_[static_cast<std::size_t>(bucket) * words_ + (rank >> 6)] |= std::uint64_t{1}
                                                                           << (rank & 63);
      nonempty_ |= std::uint64_t{1} << bucket;
    } else {
      schedule_far(rank, cycle);
    }
  }

  // `rank` issues at every cycle after now() until released; it must not also be scheduled.
  void hold(int rank) {
    steady_[rank >> 6] |= std::uint64_t{1} << (rank & 63);
    ++steady_count_;
  }
  void release(int rank) {
    steady_[rank >> 6] &= ~(std::uint64_t{1} << (rank & 63));
    --steady_count_;
  }

  // Calls f(rank) for every rank due now (scheduled or held), in increasing rank. f may
  // schedule later cycles, hold or release.
  template <typename F>
  void drain(F&& f) {
    const int bucket = static_cast<int>(static_cast<std::uint64_t>(now_) & (kWindow - 1));
    nonempty_ &= ~(std::uint64_t{1} << bucket);
    std::uint64_t* words = buckets_.data() + static_cast<std::size_t>(bucket) * words_;
    for (int w = 0; w < words_; ++w) {
      std::uint64_t bits = words[w] | steady_[w];
      words[w] = 0;
      while (bits != 0) {
        const int rank = (w << 6) + std::countr_zero(bits);
        bits &= bits - 1;
        f(rank);
      }
    }
  }

  // Moves now() to the next cycle with an issue due; false when nothing is scheduled.
  bool advance() {
    if (steady_count_ > 0) {
      ++now_;
    } else if (nonempty_ != 0) {
      // Next non-empty bucket after now's, in ring order.
      const int here = static_cast<int>(static_cast<std::uint64_t>(now_) & (kWindow - 1));
      const std::uint64_t rotated = std::rotr(nonempty_, here + 1);
      now_ += 1 + std::countr_zero(rotated);
    } else if (!far_.empty()) {
      now_ = far_.top().first;
    } else {
      return false;
    }
    while (!far_.empty() && far_.top().first - now_ < kWindow) {
      const auto [cycle, rank] = far_.top();
      far_.pop();
      schedule(rank, cycle);
    }
    return true;
  }

 private:
  static constexpr int kWindow = 64;  // = bits of nonempty_

  [[gnu::noinline]] void schedule_far(int rank, std::int64_t cycle) { far_.emplace(cycle, rank); }

  int words_;
  std::int64_t now_ = 0;
  std::uint64_t nonempty_ = 0;          // bit b: bucket b holds a rank
  std::vector<std::uint64_t> buckets_;  // [kWindow][words_] rank bitsets
  std::vector<std::uint64_t> steady_;   // [words_] ranks issuing every cycle
  int steady_count_ = 0;
  std::priority_queue<std::pair<std::int64_t, int>, std::vector<std::pair<std::int64_t, int>>,
                      std::greater<>>
      far_;
};

}  // namespace lockstep::lpu
