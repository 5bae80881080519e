#!/usr/bin/env bash
# Runs the native test files against an AddressSanitizer build of the addon.
#
#   npm run build:native:asan   # -> build/asan/Release/memery.node (CMake option MEMERY_ASAN)
#   npm run test:asan           # this script
#
# Node itself is not instrumented, so the ASan runtime is preloaded (it must come first in the
# library list) and the addon is picked with MEMERY_NATIVE_BINDING (ts/native/binding.ts).
# Phase 1 runs the vitest files with leak detection off (node, V8 and the vitest workers leak at
# exit by design). Phase 2 (MEMERY_ASAN_LEAKS=0 skips it) runs scripts/asan-exercise.mjs, a plain
# node script that exercises the same native paths, with LeakSanitizer on and the suppressions in
# scripts/asan/lsan.supp for node/V8/ONNX Runtime/glib/libvips one-time allocations.
# Extra arguments are passed to vitest (e.g. a single test file).
set -euo pipefail
cd "$(dirname "$0")/.."

ADDON=build/asan/Release/memery.node
if [[ ! -f $ADDON ]]; then
  echo "test-asan: $ADDON is missing; run 'npm run build:native:asan' first" >&2
  exit 2
fi
LIBASAN=$(gcc -print-file-name=libasan.so)
if [[ ! -e $LIBASAN || $LIBASAN == libasan.so ]]; then
  echo "test-asan: gcc does not know libasan.so (install gcc's libasan, e.g. apt-get install libasan8)" >&2
  exit 2
fi
# the ASan runtime the addon was linked against must be the one preloaded
NEEDED=$(ldd "$ADDON" | awk '/libasan/ {print $3}')
if [[ -n $NEEDED && $(readlink -f "$NEEDED") != $(readlink -f "$LIBASAN") ]]; then
  echo "test-asan: $ADDON needs $NEEDED but gcc's runtime is $LIBASAN" >&2
  exit 2
fi

export MEMERY_NATIVE_BINDING=$PWD/$ADDON
export MEMERY_ASAN=1 # tests relax assertions that ASan itself breaks (RSS growth: quarantine)
# V8 installs its own SIGSEGV handler (WebAssembly trap handling): let it.
COMMON=allow_user_segv_handler=1:handle_segv=0:abort_on_error=0:halt_on_error=1:print_summary=1:strict_string_checks=0:detect_stack_use_after_return=0:check_initialization_order=0

# Preflight: the ASan runtime is in the process and the ASan addon is the one that loads.
LD_PRELOAD=$LIBASAN ASAN_OPTIONS=$COMMON:detect_leaks=0 node -e "
  require(process.env.MEMERY_NATIVE_BINDING);
  const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
  if (!/libasan/.test(maps) || !maps.includes(process.env.MEMERY_NATIVE_BINDING)) process.exit(3);
" || { echo "test-asan: the ASan addon did not load under the ASan runtime" >&2; exit 2; }

FILES=("$@")
if [[ ${#FILES[@]} -eq 0 ]]; then
  FILES=(test/native-encoders.test.ts test/native-errors.test.ts test/native-memory.test.ts
    test/native-event-loop.test.ts test/vector-index.test.ts test/native-ocr.test.ts)
fi

LOG_DIR=${MEMERY_ASAN_LOG_DIR:-build/asan/logs}
rm -rf "$LOG_DIR" && mkdir -p "$LOG_DIR"

echo "== test-asan phase 1: vitest ${FILES[*]} (detect_leaks=0)"
status=0
LD_PRELOAD=$LIBASAN ASAN_OPTIONS=$COMMON:detect_leaks=0:log_path=$PWD/$LOG_DIR/asan \
  node node_modules/vitest/vitest.mjs run "${FILES[@]}" || status=$?
reports=$(ls "$LOG_DIR"/asan.* 2>/dev/null || true)
if [[ -n $reports ]]; then
  echo "test-asan: AddressSanitizer reports:" >&2
  cat $reports >&2
  status=1
fi
[[ $status -eq 0 ]] || { echo "test-asan: phase 1 failed ($status)" >&2; exit "$status"; }

if [[ ${MEMERY_ASAN_LEAKS:-1} == 1 ]]; then
  echo "== test-asan phase 2: scripts/asan-exercise.mjs (detect_leaks=1, suppressions scripts/asan/lsan.supp)"
  # Full (slow) unwinding: ONNX Runtime has no frame pointers, and the suppressions need whole stacks.
  LD_PRELOAD=$LIBASAN ASAN_OPTIONS=$COMMON:detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=64:log_path=$PWD/$LOG_DIR/leaks \
    LSAN_OPTIONS=suppressions=$PWD/scripts/asan/lsan.supp:print_suppressions=1:report_objects=0 \
    node --expose-gc scripts/asan-exercise.mjs || status=$?
  reports=$(ls "$LOG_DIR"/leaks.* 2>/dev/null || true)
  if [[ -n $reports ]]; then
    # print_suppressions lists what was suppressed; only unsuppressed leaks are an error
    cat $reports
    if grep -q "ERROR: LeakSanitizer\|ERROR: AddressSanitizer" $reports; then status=1; fi
  fi
  [[ $status -eq 0 ]] || { echo "test-asan: phase 2 failed ($status)" >&2; exit "$status"; }
fi
echo "test-asan: no AddressSanitizer errors"
