#include "core/thread_pool.h"

#include <algorithm>

namespace lockstep::core {

ThreadPool::ThreadPool(int threads) {
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n; ++i) workers_.emplace_back([this] { work_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::run_indices() {
  std::unique_lock lock(mutex_);
  while (fn_ && next_ < n_) {
    const std::size_t i = next_++;
    const auto* fn = fn_;
    lock.unlock();
    std::exception_ptr error;
    try {
      (*fn)(i);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error) errors_[i] = error;
    if (++finished_ == n_) done_.notify_all();
  }
}

void ThreadPool::work_loop() {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_indices();
  }
}

void ThreadPool::parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) {
  if (n == 0) return;
  {
    std::lock_guard lock(mutex_);
    fn_ = &fn;
    n_ = n;
    next_ = finished_ = 0;
    errors_.assign(n, nullptr);
    ++generation_;
  }
  if (n > 1) wake_.notify_all();
  run_indices();
  std::vector<std::exception_ptr> errors;
  {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return finished_ == n_; });
    fn_ = nullptr;
    errors.swap(errors_);
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace lockstep::core
