#!/usr/bin/env bash
# How far results move between CPUs: trains experiments/smoke.toml natively and under
# emulated CPUs (qemu-x86_64 -cpu MODEL, Debian's qemu-user), and prints, per CPU, the
# largest difference of any cost from the native run. gemm picks its kernels from the
# CPU's features: AVX-512 (x86-64-v4), AVX2 + FMA (Haswell), or without FMA.
#
#   cargo build --release && apt-get install qemu-user
#   scripts/cross-cpu.sh [MODEL ...]      # default: Haswell SandyBridge Nehalem
#
# The cross-CPU figures of docs/ci.md and the CI tolerance (`--verify --tolerance`) come from
# this script. Emulation is slow: a few minutes per model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runner="$root/target/release/runner"
models=${*:-Haswell SandyBridge Nehalem}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { # NAME [qemu-x86_64 -cpu MODEL]
  local name=$1; shift
  "$@" "$runner" -q --jobs 2 --out "$work/$name" --data-dir "$root/data" "$root/experiments/smoke.toml"
}
echo "native: $(lscpu | sed -n "s/^Model name: *//p")"
run native
for model in $models; do
  run "$model" qemu-x86_64 -cpu "$model"
done
python3 - "$work" $models <<'PY'
import csv, sys, os
work, models = sys.argv[1], sys.argv[2:]
def costs(name):
    rows = {}
    with open(os.path.join(work, name, "smoke", "epochs.csv")) as f:
        for r in csv.DictReader(f):
            rows[(r["run_id"], r["epoch"])] = (float(r["train_cost"]), float(r["test_cost"]))
    return rows
native = costs("native")
print("| CPU presented | largest abs difference of a cost from native | at epoch 1 |")
print("|---|---:|---:|")
for m in models:
    other = costs(m)
    diffs = [max(abs(a - b) for a, b in zip(native[k], other[k])) for k in native]
    first = [max(abs(a - b) for a, b in zip(native[k], other[k])) for k in native if k[1] == "1"]
    print(f"| {m} | {max(diffs):.2e} | {max(first):.2e} |")
PY
