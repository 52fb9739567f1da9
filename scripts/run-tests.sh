#!/usr/bin/env bash
# Runs every seqmix test through lit (FileCheck, driver, integration and
# GoogleTest suites) and ends with one line: "N passed, N failed".
set -uo pipefail
BUILD_DIR=${1:-build}
LIT=/usr/lib/llvm-22/bin/lit
log=$(mktemp)
"$LIT" -v --no-progress-bar "$BUILD_DIR/test" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
count() { # sum of the numbers on lit's summary lines named $@
  local n=0 k v
  for k in "$@"; do
    v=$(grep -E "^  $k: *[0-9]+" "$log" | sed -E 's/^ *[^:]+: *([0-9]+).*/\1/' | head -1)
    n=$((n + ${v:-0}))
  done
  echo "$n"
}
passed=$(count "Passed" "Expectedly Failed")
failed=$(count "Failed" "Unresolved" "Timed Out" "Unexpectedly Passed")
rm -f "$log"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1  # lit itself failed (e.g. a configuration error)
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
