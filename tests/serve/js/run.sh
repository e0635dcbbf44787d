#!/usr/bin/env bash
# Runs node:test files against a live `lockstep serve`, driven by the official openai npm client.
#
#   run.sh LOCKSTEP_BINARY WORK_DIR TEST_FILE...
#
# WORK_DIR (a build directory) gets package.json, the lock file and node_modules: `npm ci` runs
# there only when node_modules is missing or the lock file changed since the last install.
# Without node >= 20 or npm, or when the install fails (no registry), it prints one sentence and
# exits 77, which ctest reports as skipped. Then it starts one server on a free port
# (--port 0 --api-key test-key --max-sequences 4 --max-queue 64, plus $LOCKSTEP_SERVE_ARGS),
# waits for its listening line, exports LOCKSTEP_URL, LOCKSTEP_API_KEY and LOCKSTEP_BINARY,
# runs `node --test` on the test files and stops the server with SIGTERM. The exit status is the
# tests'; a server that does not exit 0 on SIGTERM fails the run too.
#
# ESM imports ignore NODE_PATH, so the test files and their helper modules are copied next to
# WORK_DIR/node_modules and run from there; `import OpenAI from "openai"` then resolves.
set -uo pipefail

if [ $# -lt 3 ]; then
  echo "usage: run.sh LOCKSTEP_BINARY WORK_DIR TEST_FILE..." >&2
  exit 2
fi
binary=$1
work=$2
shift 2
here=$(cd "${BASH_SOURCE[0]%/*}" && pwd)
api_key=test-key
ready_timeout_s=${LOCKSTEP_READY_TIMEOUT:-60}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "run.sh: skipped: the openai client tests need node (20 or later) and npm on PATH."
  exit 77
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "run.sh: skipped: the openai client tests need node 20 or later, found $(node --version)."
  exit 77
fi
if [ ! -x "$binary" ]; then
  echo "run.sh: $binary is not an executable lockstep binary." >&2
  exit 2
fi

mkdir -p "$work"
work=$(cd "$work" && pwd)

# Install once per lock file. Two ctest entries share WORK_DIR, so installs are serialised.
install_node_modules() {
  if [ -d "$work/node_modules/openai" ] && cmp -s "$here/package-lock.json" "$work/.installed-lock.json"; then
    return 0
  fi
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  rm -f "$work/.installed-lock.json"
  # Bounded: without a registry npm would otherwise retry for minutes.
  if ! (cd "$work" && timeout 120 npm ci --no-audit --no-fund --fetch-retries=1 \
          --fetch-timeout=30000 >"$work/npm-ci.log" 2>&1); then
    return 1
  fi
  cp "$here/package-lock.json" "$work/.installed-lock.json"
}
exec 9>"$work/.install.lock"
flock 9
if ! install_node_modules; then
  echo "run.sh: skipped: npm ci could not install the openai package (no registry?); see $work/npm-ci.log."
  exit 77
fi
flock -u 9
exec 9>&-

# Each run gets its own directory under WORK_DIR (ctest may run two entries at once): the test
# files, the helpers and the server's output. Removed when the run passes, kept when it fails.
run_dir="$work/run-$$"
rm -rf "$run_dir"
mkdir -p "$run_dir"
cp "$here"/*.mjs "$run_dir/"
test_paths=()
for f in "$@"; do
  [ -f "$f" ] || { echo "run.sh: no test file $f." >&2; exit 2; }
  cp "$f" "$run_dir/" 2>/dev/null || true  # already there when it is one of $here/*.mjs
  test_paths+=("$run_dir/$(basename "$f")")
done

server_out="$run_dir/server.out"
server_err="$run_dir/server.err"
# setsid: the server leads its own process group, so a kill reaches anything it spawned.
# shellcheck disable=SC2086  # LOCKSTEP_SERVE_ARGS is a list of flags
setsid "$binary" serve --port 0 --api-key "$api_key" --max-sequences 4 --max-queue 64 \
  ${LOCKSTEP_SERVE_ARGS:-} >"$server_out" 2>"$server_err" &
server_pid=$!
# If ctest kills this script on its timeout, the server must not outlive it.
( while kill -0 $$ 2>/dev/null; do sleep 1; done; kill -TERM -- "-$server_pid" 2>/dev/null ) &
watchdog_pid=$!

# shellcheck disable=SC2317  # called from the EXIT trap
stop_server() {
  [ -n "${watchdog_pid:-}" ] && kill "$watchdog_pid" 2>/dev/null
  if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM -- "-$server_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "run.sh: the server did not stop within 10 s of SIGTERM; killing it." >&2
      kill -KILL -- "-$server_pid" 2>/dev/null
    fi
  fi
}
show_server_log() {
  echo "---- server stderr (last 40 lines of $server_err) ----" >&2
  tail -n 40 "$server_err" >&2
  echo "----" >&2
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

url=""
deadline=$((SECONDS + ready_timeout_s))
while [ -z "$url" ]; do
  url=$(sed -n 's|^lockstep serve: listening on \(http://[^ ]*\)$|\1|p' "$server_out" | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid"
    echo "run.sh: the server exited with status $? before printing its listening line." >&2
    show_server_log
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "run.sh: the server printed no 'lockstep serve: listening on http://...' line within ${ready_timeout_s} s." >&2
    show_server_log
    exit 1
  fi
  sleep 0.1
done
echo "run.sh: server pid $server_pid listening on $url"

export LOCKSTEP_URL=$url LOCKSTEP_API_KEY=$api_key LOCKSTEP_BINARY=$binary
(cd "$run_dir" && node --test --test-reporter=spec --test-concurrency=1 \
  --test-timeout="${LOCKSTEP_TEST_TIMEOUT_MS:-150000}" "${test_paths[@]}")
status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  wait "$server_pid"
  echo "run.sh: the server died during the tests (exit status $?)." >&2
  show_server_log
  exit 1
fi
kill -TERM -- "-$server_pid"
for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "run.sh: the server did not exit within 10 s of SIGTERM." >&2
  kill -KILL -- "-$server_pid"
  exit 1
fi
wait "$server_pid"
server_status=$?
server_pid=""
if [ "$server_status" -ne 0 ]; then
  echo "run.sh: the server exited with status $server_status on SIGTERM (expected 0)." >&2
  show_server_log
  exit 1
fi
if [ "$status" -ne 0 ]; then
  show_server_log
  echo "run.sh: the tests failed; files and server output are in $run_dir." >&2
else
  rm -rf "$run_dir"
fi
exit "$status"
