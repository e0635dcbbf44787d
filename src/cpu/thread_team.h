// A fixed team of threads that run one task together and meet at spin barriers: the CPU
// backend's execution engine. The thread that creates the team is member 0 and takes part in
// every run(); members 1..N-1 are worker threads. Each member is pinned to a core of the
// process's affinity mask (round-robin when there are more members than cores), so that a
// member's share of a step always runs on the same core.
//
// Inside run(), waiting is spinning (no system call while all members are busy on their own
// cores); a member that spins long (an oversubscribed machine) yields its core, and idle workers
// fall asleep on a futex between runs, so an idle team costs no CPU.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace lockstep::cpu {

class ThreadTeam {
 public:
  // members >= 1. Pins the calling thread (restored by the destructor) and starts members - 1
  // workers.
  explicit ThreadTeam(int members);
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int size() const { return members_; }

  // Runs task(context, member) on every member at once, the caller as member 0, and returns
  // when all have returned. Tasks must not throw. Not reentrant: one run at a time, from the
  // thread that created the team.
  using Task = void (*)(void* context, int member);
  void run(Task task, void* context);

  // Called by every member inside a task: returns when all members have called it.
  void barrier();

 private:
  void worker_loop(int member);

  int members_;
  std::vector<std::thread> workers_;
  bool caller_pinned_ = false;
  std::vector<std::uint8_t> caller_mask_;  // the caller's affinity before pinning (cpu_set_t)

  Task task_ = nullptr;
  void* context_ = nullptr;
  alignas(64) std::atomic<std::uint64_t> generation_{0};  // bumped by each run()
  alignas(64) std::atomic<int> sleepers_{0};
  alignas(64) std::atomic<int> finished_{0};              // workers done with this run
  alignas(64) std::atomic<int> arrived_{0};               // members at the current barrier
  alignas(64) std::atomic<std::uint64_t> barrier_phase_{0};
  std::atomic<bool> stopping_{false};
};

// Cores this process may run on (its affinity mask), in order. At least one.
std::vector<int> available_cores();

// Pins `thread` to `core`; false when the system refuses (pinning is only ever a speed hint).
bool pin_thread(pthread_t thread, int core);

}  // namespace lockstep::cpu
