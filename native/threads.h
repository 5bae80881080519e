// Worker threads (decoders, ONNX Runtime's pool) run at a slightly lower priority than the JS
// thread, so that on a machine with few cores the event loop keeps its timing while they work.
#pragma once
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
}  // namespace memery
