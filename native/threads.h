// Worker threads (decoders, ONNX Runtime's pool) run at a slightly lower priority than the JS
// thread, so that on a machine with few cores the event loop keeps its timing while they work.
#pragma once
#include <cerrno>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace memery {
inline void LowerThreadPriority() {
#ifdef __linux__
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 5);
#endif
}
// Lowers the calling thread's priority for the scope (ONNX Runtime's Run on a libuv worker thread:
// the thread that runs a parallel section must not outrank its pool threads), then restores it.
class ScopedLowerPriority {
 public:
  ScopedLowerPriority() {
#ifdef __linux__
    tid_ = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    before_ = getpriority(PRIO_PROCESS, tid_);
    ok_ = errno == 0;
    if (ok_) setpriority(PRIO_PROCESS, tid_, 5);
#endif
  }
  ~ScopedLowerPriority() {
#ifdef __linux__
    if (ok_) setpriority(PRIO_PROCESS, tid_, before_);
#endif
  }
  ScopedLowerPriority(const ScopedLowerPriority &) = delete;
  ScopedLowerPriority &operator=(const ScopedLowerPriority &) = delete;

 private:
#ifdef __linux__
  id_t tid_ = 0;
  int before_ = 0;
  bool ok_ = false;
#endif
};
}  // namespace memery
