// A small pool of worker threads for work that splits into independent indexed jobs (the
// compiler's stage programs). Fixed workers, started once; parallel_for(n, fn) runs fn(i) for
// every i < n on the workers and the calling thread, and returns when all are done. Results are
// deterministic when each index writes only its own slot: which thread runs an index never
// matters. An exception thrown by fn(i) is kept and, after every index has run, the one of the
// lowest index is rethrown. Not re-entrant: fn must not call parallel_for on the same pool.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lockstep::core {

class ThreadPool {
 public:
  // threads: how many run a parallel_for, the caller included (0: one per core). threads - 1
  // workers are started.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

 private:
  void work_loop();
  void run_indices();  // takes indices of the current job until none are left

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // The current job, guarded by mutex_.
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t n_ = 0, next_ = 0, finished_ = 0;
  std::uint64_t generation_ = 0;
  std::vector<std::exception_ptr> errors_;  // [n]
  bool stop_ = false;
};

}  // namespace lockstep::core
