#!/usr/bin/env bash
# Runs the tutorial's TensorFlow program with some of its draws taken from runner
# (scripts/reference/seed_tf_swap.py), for one depth and the given seeds, and writes one
# log per run to OUT (default results/tensorflow): swap-<what>_<arch>_s<seed>.log.
#
#   cargo build --release && pip install tensorflow-cpu numpy
#   scripts/reference/tf_swaps.sh DATA_DIR/mnist {1|2} "init,order,noise init order noise" "$(seq 1 10)" [OUT]
#
# For each seed, runner-trace records the whole 20-epoch run's draws (11000 steps, about
# 4.3 GB in a temporary folder, removed afterwards); each WHAT is one run of the program.
# Finished logs are kept, so an interrupted batch resumes where it stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mnist=${1:?usage: tf_swaps.sh MNIST_DIR DEPTH WHATS SEEDS [OUT]}
depth=${2:?depth 1 or 2}
whats=${3:?what to swap, e.g. "init,order,noise init"}
seeds=${4:?seeds}
out=${5:-results/tensorflow}
case $depth in
  1) arch=784-256-784; hidden=h256 ;;
  2) arch=784-256-128-256-784; hidden=h256-128 ;;
  *) echo "depth must be 1 or 2" >&2; exit 2 ;;
esac
mkdir -p "$out"
for seed in $seeds; do
  todo=""
  for what in $whats; do
    log="$out/swap-${what//,/-}_${arch}_s${seed}.log"
    [ -f "$log" ] && grep -q "Exit status: 0" "$log" || todo="$todo $what"
  done
  [ -n "$todo" ] || continue
  draws=$(mktemp -d)
  "$root/target/release/runner-trace" "$root/experiments/depth_sweep.toml" \
    --run "${hidden}_noise0.6_lr0.01_seed${seed}" --steps 11000 --out "$draws" \
    --data-dir "$(dirname "$mnist")"
  for what in $todo; do
    log="$out/swap-${what//,/-}_${arch}_s${seed}.log"
    /usr/bin/time -v python3 "$here/seed_tf_swap.py" "$mnist" "$depth" 20 "$seed" "$draws" "$what" >"$log.tmp" 2>&1
    mv "$log.tmp" "$log"
  done
  rm -rf "$draws"
done
