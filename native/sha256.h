// SHA-256 (FIPS 180-4) of a buffer, without OpenSSL: a portable C++ implementation, and on x86-64
// with GCC or Clang a path on the SHA extensions (SHA-NI), picked at run time when the CPU has them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace memery {
namespace sha256 {

enum class Impl { Auto, Portable, ShaNi };

// True when this build has the SHA-NI path and the CPU supports it.
bool HasShaNi();

// "sha-ni" or "portable": what Impl::Auto uses.
const char *AutoImplName();

// SHA-256 of `len` bytes at `data` into `digest`. Impl::ShaNi falls back to portable when
// HasShaNi() is false (callers that must know check HasShaNi()).
void Hash(const void *data, size_t len, uint8_t digest[32], Impl impl = Impl::Auto);

// Lowercase hex of the first `nbytes` bytes of `digest`.
std::string Hex(const uint8_t *digest, size_t nbytes = 32);

// memery's content hash of `len` bytes at `data`: the lowercase hex of the first 16 bytes of their
// SHA-256 (32 characters, as catalog/hash.ts contentHash and HASH_HEX_CHARS).
std::string ContentHash(const void *data, size_t len);

}  // namespace sha256
}  // namespace memery
