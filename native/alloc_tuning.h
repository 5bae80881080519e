// glibc's allocator while images are decoded. Each image needs a few large buffers (the file's
// bytes are reused, but libjpeg's pools, libvips' regions and the JPEG encoder's output are not):
// above glibc's mmap threshold (128 KiB, raised only as far as the largest block freed) every
// such buffer is a fresh mmap, zero-filled page by page and unmapped when freed, and the heap is
// trimmed back to the kernel as soon as 128 KiB lie free at its top. Measured (perf) on 1-12 MP
// photos, those page faults were about a tenth of the decode's CPU and a third of the thumbnail's.
// While any encodeFiles call runs, blocks up to kMmapThreshold come from the heap and its top is
// kept up to kTrimThreshold; when the last one ends the defaults return and malloc_trim gives the
// freed memory back, so a long-running server does not keep it.
#pragma once
#include <mutex>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace memery {

// glibc's default mmap (and trim) threshold.
constexpr int kDefaultMmapThreshold = 128 * 1024;

// memery's allocator setting outside encodeFiles, set once when libvips starts. Image buffers
// (hundreds of KB to MBs) are allocated and freed on many short-lived decoder and libvips worker
// threads. glibc's dynamic mmap threshold soon moves such blocks from mmap into the per-thread
// arenas, where they fragment: RSS grew by 55-80 MB over 20 encodeFiles passes of the 96-file test
// corpus. A fixed threshold (the default, with the dynamic adjustment off) keeps big blocks in
// mmap, returned to the OS on free: ~4 MB. ScopedDecodeAllocator departs from it only while
// encodeFiles runs, and trims when it returns to it.
inline void FixMmapThreshold() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, kDefaultMmapThreshold);
#endif
}

class ScopedDecodeAllocator {
 public:
  static constexpr int kMmapThreshold = 32 * 1024 * 1024;
  static constexpr int kTrimThreshold = 128 * 1024 * 1024;
  ScopedDecodeAllocator() {
#if defined(__GLIBC__)
    std::lock_guard<std::mutex> lock(Mutex());
    if (Users()++ == 0) {
      mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
      mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
    }
#endif
  }
  ~ScopedDecodeAllocator() {
#if defined(__GLIBC__)
    std::lock_guard<std::mutex> lock(Mutex());
    if (--Users() == 0) {
      // Back to FixMmapThreshold's setting, and glibc's default trim threshold.
      FixMmapThreshold();
      mallopt(M_TRIM_THRESHOLD, kDefaultMmapThreshold);
      malloc_trim(0);
    }
#endif
  }
  ScopedDecodeAllocator(const ScopedDecodeAllocator &) = delete;
  ScopedDecodeAllocator &operator=(const ScopedDecodeAllocator &) = delete;

 private:
  static std::mutex &Mutex() {
    static std::mutex m;
    return m;
  }
  static int &Users() {
    static int n = 0;
    return n;
  }
};
}  // namespace memery
