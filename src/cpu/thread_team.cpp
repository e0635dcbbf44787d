#include "cpu/thread_team.h"

#include <pthread.h>
#include <sched.h>

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOCKSTEP_CPU_RELAX() _mm_pause()
#else
#define LOCKSTEP_CPU_RELAX() ((void)0)
#endif

namespace lockstep::cpu {
namespace {

// Pause instructions before a waiting member yields its core. A pause is about 40-140 cycles,
// so this is roughly 0.1-0.5 ms: far above a barrier's normal wait inside a step.
constexpr int kSpinsBeforeYield = 4000;
// Yields before an idle worker (waiting for the next run) goes to sleep on the futex.
constexpr int kYieldsBeforeSleep = 2000;

template <typename Ready>
void spin_until(Ready ready) {
  int spins = 0;
  while (!ready()) {
    if (++spins < kSpinsBeforeYield) {
      LOCKSTEP_CPU_RELAX();
    } else {
      sched_yield();
    }
  }
}

}  // namespace

bool pin_thread(pthread_t thread, int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return pthread_setaffinity_np(thread, sizeof(set), &set) == 0;
}

std::vector<int> available_cores() {
  std::vector<int> cores;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cores.push_back(c);
  }
  if (cores.empty()) cores.push_back(0);
  return cores;
}

ThreadTeam::ThreadTeam(int members) : members_(members < 1 ? 1 : members) {
  const std::vector<int> available = available_cores();
  auto core_of = [&](int member) { return available[static_cast<std::size_t>(member) % available.size()]; };
  if (members_ > 1) {
    cpu_set_t old;
    CPU_ZERO(&old);
    if (pthread_getaffinity_np(pthread_self(), sizeof(old), &old) == 0) {
      caller_mask_.resize(sizeof(old));
      std::memcpy(caller_mask_.data(), &old, sizeof(old));
      pin_thread(pthread_self(), core_of(0));  // best effort: a failure only costs speed
      caller_pinned_ = true;
    }
  }
  for (int m = 1; m < members_; ++m) {
    workers_.emplace_back([this, m] { worker_loop(m); });
    pin_thread(workers_.back().native_handle(), core_of(m));
  }
}

ThreadTeam::~ThreadTeam() {
  stopping_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
  if (caller_pinned_) {
    cpu_set_t old;
    std::memcpy(&old, caller_mask_.data(), sizeof(old));
    pthread_setaffinity_np(pthread_self(), sizeof(old), &old);
  }
}

void ThreadTeam::run(Task task, void* context) {
  task_ = task;
  context_ = context;
  finished_.store(0, std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst: publishes task_ and pairs with sleepers_ below
  if (sleepers_.load() > 0) generation_.notify_all();
  task(context, 0);
  const int workers = members_ - 1;
  spin_until([&] { return finished_.load(std::memory_order_acquire) == workers; });
}

void ThreadTeam::barrier() {
  if (members_ == 1) return;
  const std::uint64_t phase = barrier_phase_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == members_ - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    barrier_phase_.fetch_add(1, std::memory_order_release);
  } else {
    spin_until([&] { return barrier_phase_.load(std::memory_order_acquire) != phase; });
  }
}

void ThreadTeam::worker_loop(int member) {
  std::uint64_t seen = 0;
  for (;;) {
    int spins = 0, yields = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      if (++spins < kSpinsBeforeYield) {
        LOCKSTEP_CPU_RELAX();
      } else if (++yields < kYieldsBeforeSleep) {
        sched_yield();
      } else {
        sleepers_.fetch_add(1);
        generation_.wait(seen);  // returns at once if a run() has already bumped it
        sleepers_.fetch_sub(1);
        spins = yields = 0;
      }
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load()) return;
    task_(context_, member);
    finished_.fetch_add(1, std::memory_order_release);
  }
}

}  // namespace lockstep::cpu
