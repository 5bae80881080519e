#include "read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#ifdef _WIN32
#include <io.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "common.h"

namespace memery {
namespace {

[[noreturn]] void ThrowErrno(const std::string &path, int err, const char *what = nullptr) {
  std::string msg = "Cannot read " + path + ": ";
  if (what) msg += std::string(what) + ": ";
  msg += std::strerror(err);
  throw Error(err == ENOENT ? "E_NOT_FOUND" : "E_IO", msg, path);
}

// Closes the descriptor on every way out.
struct Fd {
  int fd = -1;
  ~Fd() {
#ifdef _WIN32
    if (fd >= 0) _close(fd);
#else
    if (fd >= 0) close(fd);
#endif
  }
};

#ifdef _WIN32
int OpenRead(const std::string &path) {
  int wlen = MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, nullptr, 0);
  if (wlen <= 0) {
    errno = EINVAL;
    return -1;
  }
  std::wstring w(static_cast<size_t>(wlen), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, &w[0], wlen);
  return _wopen(w.c_str(), _O_RDONLY | _O_BINARY | _O_NOINHERIT);
}
long long ReadSome(int fd, uint8_t *p, size_t n) {
  return _read(fd, p, static_cast<unsigned>(n > (1u << 30) ? (1u << 30) : n));
}
#else
int OpenRead(const std::string &path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused after fstat).
  int flags = O_RDONLY | O_NOCTTY | O_NONBLOCK;
#ifdef O_CLOEXEC
  flags |= O_CLOEXEC;
#endif
  int fd;
  do fd = open(path.c_str(), flags);
  while (fd < 0 && errno == EINTR);
  return fd;
}
long long ReadSome(int fd, uint8_t *p, size_t n) {
  ssize_t r;
  do r = read(fd, p, n > (size_t{1} << 30) ? (size_t{1} << 30) : n);
  while (r < 0 && errno == EINTR);
  return r;
}
#endif

}  // namespace

std::string FormatBytes(uint64_t n) {
  if (n < 1024) return std::to_string(n) + (n == 1 ? " byte" : " bytes");
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(n) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    u++;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s + " " + units[u];
}

void ReadWholeFile(const std::string &path, uint64_t maxBytes, FileBytes &out) {
  out.length = 0;
  out.statted = false;
  out.size = 0;
  out.mtimeMs = 0;
  Fd fd;
  fd.fd = OpenRead(path);
  if (fd.fd < 0) ThrowErrno(path, errno);
#ifdef _WIN32
  struct _stat64 st;
  if (_fstat64(fd.fd, &st) != 0) ThrowErrno(path, errno, "fstat");
  const bool isDir = (st.st_mode & _S_IFMT) == _S_IFDIR, isReg = (st.st_mode & _S_IFMT) == _S_IFREG;
  const double mtimeMs = static_cast<double>(st.st_mtime) * 1000.0;
#else
  struct stat st;
  if (fstat(fd.fd, &st) != 0) ThrowErrno(path, errno, "fstat");
  const bool isDir = S_ISDIR(st.st_mode), isReg = S_ISREG(st.st_mode);
#if defined(__APPLE__)
  const double mtimeMs = static_cast<double>(st.st_mtimespec.tv_sec) * 1000.0 + static_cast<double>(st.st_mtimespec.tv_nsec) / 1e6;
#else
  const double mtimeMs = static_cast<double>(st.st_mtim.tv_sec) * 1000.0 + static_cast<double>(st.st_mtim.tv_nsec) / 1e6;
#endif
#endif
  if (isDir) throw Error("E_DECODE", "Expected an image file but " + path + " is a directory", path);
  if (!isReg) throw Error("E_DECODE", "Expected an image file but " + path + " is not a regular file", path);
  const uint64_t size = st.st_size < 0 ? 0 : static_cast<uint64_t>(st.st_size);
  out.statted = true;
  out.size = static_cast<double>(size);
  out.mtimeMs = mtimeMs;
  if (size > maxBytes || size > static_cast<uint64_t>(SIZE_MAX / 2)) {
    std::string limit = FormatBytes(maxBytes), actual = FormatBytes(size);
    if (limit == actual) {  // rounding hid the difference
      limit += " (" + std::to_string(maxBytes) + " bytes)";
      actual += " (" + std::to_string(size) + " bytes)";
    }
    throw Error("E_TOO_LARGE", "Expected an image of at most " + limit + " but " + path + " is " + actual, path);
  }
#ifndef _WIN32
  // Back to blocking reads (O_NONBLOCK was for the open only; regular files ignore it anyway).
  int fl = fcntl(fd.fd, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd.fd, F_SETFL, fl & ~O_NONBLOCK);
#endif
  const size_t n = static_cast<size_t>(size);
  // One byte more than fstat said, to see the end of the file (or that it grew).
  if (!out.data || out.capacity < n + 1) {
    out.data.reset();
    out.capacity = 0;
    out.data.reset(new uint8_t[n + 1]);
    out.capacity = n + 1;
  }
  uint8_t *data = out.data.get();
  size_t got = 0;
  while (got < n + 1) {
    long long r = ReadSome(fd.fd, data + got, n + 1 - got);
    if (r < 0) ThrowErrno(path, errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  if (got != n) {
    throw Error("E_IO", "Cannot read " + path + ": the file " + (got < n ? "shrank" : "grew") + " while it was read (" +
                            std::to_string(size) + " bytes at the start)", path);
  }
  out.length = n;
}

}  // namespace memery
