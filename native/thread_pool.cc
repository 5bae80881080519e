#include "thread_pool.h"

#include <chrono>
#include <system_error>
#include <thread>

#include "common.h"
#include "preprocess.h"
#include "threads.h"

namespace memery {

namespace {
// A pool thread with nothing to do for this long exits (and is started again on demand).
constexpr std::chrono::seconds kIdleExit{30};
}  // namespace

ThreadPool &ThreadPool::Decode() {
  static ThreadPool *pool = new ThreadPool(std::max<unsigned>(1, std::thread::hardware_concurrency()));
  return *pool;
}

ThreadPool::ThreadPool(size_t size) : size_(std::max<size_t>(1, size)) {}

void ThreadPool::Submit(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(task));
  if (queue_.size() > idle_ && threads_ < size_) {
    try {
      std::thread(&ThreadPool::Worker, this).detach();
      threads_++;
    } catch (const std::system_error &) {
      if (threads_ == 0) {  // nothing would ever run it
        queue_.pop_back();
        throw Error("E_NATIVE", "Cannot start decoder threads");
      }
    }
  }
  cv_.notify_one();
}

void ThreadPool::Worker() {
  LowerThreadPriority();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    idle_++;
    const bool work = cv_.wait_for(lock, kIdleExit, [&] { return !queue_.empty(); });
    idle_--;
    if (!work) break;
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      task();
    } catch (...) {
    }
    task = nullptr;  // its captures go before the lock is taken again
    lock.lock();
  }
  threads_--;
  lock.unlock();
  VipsThreadDone();  // this thread's libvips state (buffers, error text)
}

void TaskGroup::Run(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_++;
  }
  try {
    pool_.Submit([this, fn = std::move(fn)] {
      try {
        fn();
      } catch (...) {
      }
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) cv_.notify_all();
    });
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_--;
    throw;
  }
}

void TaskGroup::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return pending_ == 0; });
}

size_t TaskGroup::Width(size_t requested, size_t items) const {
  return std::max<size_t>(1, std::min(requested ? requested : pool_.size(), items));
}

}  // namespace memery
