#!/usr/bin/env bash
# Builds the libFuzzer targets (in the asan preset's tree, build/asan: clang, ASan + UBSan, the
# same libraries the sanitized unit suite runs) and runs each for a bounded time.
# FUZZ_SECONDS (default 30) per target. Fails if any target finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
cmake --preset asan >/dev/null
cmake --build --preset fuzzers
status=0
passed=0
failed=0
for fuzzer in build/asan/fuzz/*_fuzz; do
  [ -x "$fuzzer" ] || continue
  name=$(basename "$fuzzer")
  corpus=build/asan/corpus/$name
  mkdir -p "$corpus"
  log=build/asan/$name.log
  if "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
       -artifact_prefix=build/asan/ "$corpus" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "fuzz: $name ran ${seconds}s clean ($(grep -Eo "Done [0-9]+ runs" "$log" | grep -Eo "[0-9]+") inputs)"
  else
    echo "fuzz: $name FAILED; last lines of $log:"
    tail -n 30 "$log"
    status=1
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
exit $status
