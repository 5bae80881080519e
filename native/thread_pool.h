// The decode pool: one set of threads (as many as cores, at lowered priority) shared by every
// operation that decodes images with libvips (ImageEncoder.encodeFiles, decodeForModel). Created
// on first use; a thread that has been idle for a while exits (calling vips_thread_shutdown, as
// every thread that used libvips must) and is started again when work comes.
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace memery {

class ThreadPool {
 public:
  // The process-wide decode pool (never destroyed: its threads may outlive static destructors).
  static ThreadPool &Decode();
  explicit ThreadPool(size_t size);
  size_t size() const { return size_; }
  // Queues `task` (which must not throw) for a pool thread. Throws memery::Error E_NATIVE when no
  // pool thread runs and none can be started.
  void Submit(std::function<void()> task);

 private:
  void Worker();
  const size_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t threads_ = 0, idle_ = 0;
};

// Tasks of one call on a pool; Wait (and the destructor) returns when all of them have finished.
class TaskGroup {
 public:
  explicit TaskGroup(ThreadPool &pool = ThreadPool::Decode()) : pool_(pool) {}
  ~TaskGroup() { Wait(); }
  TaskGroup(const TaskGroup &) = delete;
  TaskGroup &operator=(const TaskGroup &) = delete;
  // Runs fn on a pool thread (exceptions are swallowed: tasks report their own errors).
  void Run(std::function<void()> fn);
  void Wait();
  // How many of this group's tasks to start for `items` items: `requested` (0: the pool's size), at
  // most one per item, at least one.
  size_t Width(size_t requested, size_t items) const;

 private:
  ThreadPool &pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t pending_ = 0;
};

// A bounded queue between producer tasks (decoders) and one consumer (inference): producers Push
// (waiting for space) and call ProducerDone once; the consumer takes batches until every producer
// is done and the queue is empty. Stop() releases waiting producers (the consumer failed).
template <typename T>
class ReadyQueue {
 public:
  ReadyQueue(size_t producers, size_t capacity) : producers_(producers), capacity_(capacity) {}
  // false when stopped (the item is dropped)
  bool Push(T item) {
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] { return items_.size() < capacity_ || stopped_; });
    if (stopped_) return false;
    items_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  void ProducerDone() {
    std::lock_guard<std::mutex> lock(mu_);
    producers_--;
    ready_.notify_one();
  }
  // Producers that never started (a task that could not be queued).
  void ProducersMissing(size_t n) { for (size_t i = 0; i < n; i++) ProducerDone(); }
  // Up to `max` items, waiting until `max` are there or the producers are done; empty at the end.
  std::vector<T> TakeBatch(size_t max) {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait(lock, [&] { return items_.size() >= max || producers_ == 0; });
    std::vector<T> out;
    const size_t take = std::min(max, items_.size());
    out.reserve(take);
    for (size_t k = 0; k < take; k++) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    space_.notify_all();
    return out;
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    space_.notify_all();
  }
  bool stopped() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<T> items_;
  size_t producers_, capacity_;
  bool stopped_ = false;
};

}  // namespace memery
