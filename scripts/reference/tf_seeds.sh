#!/usr/bin/env bash
# Runs the tutorial's TensorFlow program (scripts/reference/seed_tf.py) for both depths and
# the given seeds, one after another, and writes one log per run to OUT (default
# results/tensorflow): tf_784-256-784_s<seed>.log and tf_784-256-128-256-784_s<seed>.log,
# each ending with /usr/bin/time -v's report.
#
#   pip install tensorflow-cpu numpy
#   scripts/reference/tf_seeds.sh DATA_DIR/mnist "$(seq 1 20)" [OUT]
#
# Existing logs that finished (they end with "Exit status: 0") are kept, so an
# interrupted batch resumes where it stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mnist=${1:?usage: tf_seeds.sh MNIST_DIR SEEDS [OUT]}
seeds=${2:?usage: tf_seeds.sh MNIST_DIR SEEDS [OUT]}
out=${3:-results/tensorflow}
mkdir -p "$out"
for seed in $seeds; do
  for depth in 1 2; do
    arch=$([ "$depth" = 1 ] && echo 784-256-784 || echo 784-256-128-256-784)
    log="$out/tf_${arch}_s${seed}.log"
    if [ -f "$log" ] && grep -q "Exit status: 0" "$log"; then continue; fi
    /usr/bin/time -v python3 "$here/seed_tf.py" "$mnist" "$depth" 20 "$seed" >"$log.tmp" 2>&1
    mv "$log.tmp" "$log"
  done
done
