// Hot pixel loops are written for the compiler's vectoriser; on x86-64 Linux they are also built for
// AVX2 and picked at load time (integer arithmetic: every version gives the same bytes).
// MEMERY_MULTIVERSION marks such a loop; MEMERY_INLINE marks a helper it calls, so that the helper
// is compiled into each version (a helper left out of line is built for the baseline only).
#pragma once

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define MEMERY_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MEMERY_MULTIVERSION
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MEMERY_INLINE inline __attribute__((always_inline))
#else
#define MEMERY_INLINE inline
#endif
