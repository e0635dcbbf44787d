#!/usr/bin/env bash
# Benchmarks lockstep on synthetic models of real shapes: generates them on demand into
# build/models/ (seeded random weights, `lockstep make-model`; never committed), runs
# `lockstep bench --json` on each into build/bench/<model>.json, and prints one summary table.
#
#   scripts/bench_models.sh [extra bench options...]     e.g. -t 2 -p 512 -n 128 -r 3
#
# LOCKSTEP    the binary (default: build/release/lockstep)
# SHAPES      catalog shapes (default: "tinyllama-1.1b llama-3.2-1b")
# TYPES       weight types (default: "q8_0 q4_0 f16")
set -euo pipefail
cd "$(dirname "$0")/.."
lockstep=${LOCKSTEP:-build/release/lockstep}
shapes=${SHAPES:-"tinyllama-1.1b llama-3.2-1b"}
types=${TYPES:-"q8_0 q4_0 f16"}
if [ ! -x "$lockstep" ]; then
  echo "error: $lockstep is not built: run 'cmake --preset release && cmake --build --preset release' or set LOCKSTEP" >&2
  exit 1
fi
mkdir -p build/models build/bench

results=()
for shape in $shapes; do
  for type in $types; do
    name=$shape-$type
    model=build/models/$name.gguf
    if [ ! -f "$model" ]; then
      echo "== making $model" >&2
      "$lockstep" make-model --shape "$shape" --type "$type" --seed 1 -o "$model.part" >&2
      mv "$model.part" "$model"
    fi
    echo "== bench $name $*" >&2
    "$lockstep" bench "$model" --json "$@" >"build/bench/$name.json.part"
    mv "build/bench/$name.json.part" "build/bench/$name.json"
    results+=("build/bench/$name.json")
  done
done

python3 - "${results[@]}" <<'PY'
import json, os, sys
rows = []
for path in sys.argv[1:]:
    j = json.load(open(path))
    p, r, roof, bw = j["parameters"], j["results"], j["roofline"], j["bandwidth"]
    rows.append([
        os.path.basename(path)[:-5], p["target"], str(p["threads"]), p["isa"],
        f'{bw["gb_per_second"]:.2f}', f'{roof["bytes_per_token"] / 1e6:.1f}',
        f'{r["prompt_tokens_per_second"]:.1f}', f'{r["decode_tokens_per_second"]:.2f}',
        f'{r["itl_p50_ms"]:.1f}', f'{r["itl_p99_ms"]:.1f}', f'{r["itl_max_ms"]:.1f}',
        f'{roof["tokens_per_second"]:.2f}', f'{100 * roof["achieved_fraction"]:.1f}',
    ])
head = ["model", "target", "thr", "isa", "BW GB/s", "MB/tok", "prompt tok/s", "decode tok/s",
        "ITL P50 ms", "P99 ms", "max ms", "roofline tok/s", "achieved %"]
width = [max(len(x) for x in col) for col in zip(head, *rows)]
for row in [head] + rows:
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, width))))
PY
