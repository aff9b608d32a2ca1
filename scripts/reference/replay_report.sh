#!/usr/bin/env bash
# The replay reports docs/replication.md quotes: one 550-step trace (one epoch) per depth,
# seed 1, replayed in numpy float64, numpy float32 and TensorFlow 1, each with both Adam
# formulas.
#
#   cargo build --release && pip install tensorflow-cpu numpy
#   scripts/reference/replay_report.sh [OUT]        # default results/replay
#
# Writes OUT/<run id>.md (the replay's table) and OUT/<run id>.csv (every step's cost).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/results/replay}
mkdir -p "$out"
for run in h256_noise0.6_lr0.01_seed1 h256-128_noise0.6_lr0.01_seed1; do
  trace=$(mktemp -d)
  "$root/target/release/runner-trace" "$root/experiments/depth_sweep.toml" --run "$run" \
    --steps 550 --out "$trace"
  python3 "$root/scripts/reference/replay.py" "$trace" --impl numpy64 --impl numpy32 \
    --impl tf --csv "$out/$run.csv.tmp" >"$out/$run.md.tmp"
  mv "$out/$run.csv.tmp" "$out/$run.csv"
  mv "$out/$run.md.tmp" "$out/$run.md"
  rm -rf "$trace"
done
