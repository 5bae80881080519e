// Reading an image file once: open, fstat on that descriptor, refuse what is not a regular file or
// is over the size limit, then read the whole file into memory. Decoding and hashing then work on
// exactly those bytes (no second open, so no window in which the path can be swapped).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace memery {

// 256 MiB: the default for maxFileBytes.
constexpr uint64_t kDefaultMaxFileBytes = 268435456ull;

struct FileBytes {
  std::unique_ptr<uint8_t[]> data;
  size_t capacity = 0;   // bytes allocated in data: a FileBytes reused for the next file keeps its
                         // buffer when it is large enough (no allocation, no fresh pages to fault in)
  size_t length = 0;     // bytes read (== size)
  // From the fstat of the descriptor that was read; valid once `statted` is true (also when the
  // read then failed or the file was over the limit).
  bool statted = false;
  double size = 0;
  double mtimeMs = 0;    // st_mtim.tv_sec * 1000 + tv_nsec / 1e6, as Node's fs.Stats.mtimeMs
  const uint8_t *bytes() const { return data.get(); }
};

// Reads `path` into `out` (reusing out's buffer when it is large enough). Throws memery::Error naming the path:
//   E_NOT_FOUND  the path does not exist (ENOENT)
//   E_IO         any other open/fstat/read failure (EACCES, EIO, ELOOP, ...), with strerror; or
//                the file changed size while it was read
//   E_DECODE     a directory or another non-regular file (not an image file)
//   E_TOO_LARGE  more than maxBytes bytes (refused before reading anything)
void ReadWholeFile(const std::string &path, uint64_t maxBytes, FileBytes &out);

// "1000 bytes", "12.5 KiB", "256 MiB", "1.9 GiB".
std::string FormatBytes(uint64_t n);

}  // namespace memery
