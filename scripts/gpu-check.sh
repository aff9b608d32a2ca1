#!/usr/bin/env bash
# The GPU check, in two halves, so that the GPU machine needs neither Rust, nor network,
# nor a CUDA toolkit: only this bundle, the NVIDIA driver and the CUDA libraries.
#
#   scripts/gpu-check.sh --bundle [DIR]   On any Linux machine, no GPU needed: builds runner
#                                         with --features cuda (scripts/build-cuda.sh; set
#                                         CUDA_COMPUTE_CAP for GPUs other than H100/H200)
#                                         and packs DIR (default target/gpu-bundle, ~30 MB):
#                                         the binary, MNIST, the experiments, the committed
#                                         smoke results and this script.
#   bash DIR/gpu-check.sh [--out DIR]     On the GPU machine: measures and writes
#                                         report.md (and each run's metrics) under --out
#                                         (default $OUT if set, else ./gpu-check-out). About
#                                         5 minutes on an H200 machine; each step has a
#                                         time limit, so the report comes back either way.
#
# The report: the GPU, CPU and libraries found; GPU against CPU costs (smoke experiment);
# the depth sweep's wall time (seeds 1 to 5: 10 runs, as issue 14 measured it) on the GPU
# (default settings and --jobs 2) and on all of the machine's cores (--device cpu --jobs
# <cores>); time per step of one run; total steps/s for 1, 4 and 16 runs, vectorised
# (--pack N) and concurrent (--pack 1 --jobs N); GPU runs launched twice (determinism)
# and packed against alone; the whole depth sweep on the GPU if time is left; peak GPU
# memory.
#
# Dry runs (what CI does, tests/gpu_check.rs): GPU_CHECK_DEVICE=cpu runs every step on the
# CPU, GPU_CHECK_QUICK=1 shrinks every experiment, RUNNER_BIN names the binary (for
# --bundle too: it is packed instead of a CUDA build).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -x $HERE/runner && -d $HERE/experiments ]]; then
    BUNDLE=$HERE # inside a bundle: everything sits next to this script
else
    BUNDLE=""
    ROOT=$(cd "$HERE/.." && pwd)
fi

die() {
    echo "gpu-check: $*" >&2
    exit 1
}

# ---------------------------------------------------------------- the build machine's half

bundle() {
    local dest=$1 bin data name f
    [[ -z $BUNDLE ]] || die "--bundle runs in the repository, not in a bundle"
    mkdir -p "$dest"
    dest=$(cd "$dest" && pwd)
    if [[ -n ${RUNNER_BIN:-} ]]; then
        bin=$RUNNER_BIN
    else
        bash "$ROOT/scripts/build-cuda.sh" --out "$ROOT/target/cuda"
        bin=$ROOT/target/cuda/runner
    fi
    [[ -x $bin ]] || die "no runner binary at $bin"
    rm -rf "$dest/runner" "$dest/data" "$dest/experiments" "$dest/results"
    mkdir -p "$dest/data/mnist" "$dest/experiments" "$dest/results"
    strip -o "$dest/runner" "$bin" 2>/dev/null || cp "$bin" "$dest/runner"
    cp "$ROOT/scripts/gpu-check.sh" "$dest/gpu-check.sh"
    cp "$ROOT/experiments/smoke.toml" "$ROOT/experiments/depth_sweep.toml" "$dest/experiments/"
    # The committed smoke results (costs only), to compare this machine's CPU run with.
    (cd "$ROOT" && find results/smoke -name metrics.csv -o -name config.toml) |
        while read -r f; do
            mkdir -p "$dest/$(dirname "$f")"
            cp "$ROOT/$f" "$dest/$f"
        done
    data=${RUNNER_DATA_DIR:-$ROOT/data}
    for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        if [[ -f $data/mnist/$name.gz ]]; then
            cp "$data/mnist/$name.gz" "$dest/data/mnist/"
        elif [[ -f $data/mnist/$name ]]; then
            gzip -9 -c "$data/mnist/$name" >"$dest/data/mnist/$name.gz"
        else
            die "no $data/mnist/$name(.gz): run runner once here to download MNIST, or set RUNNER_DATA_DIR"
        fi
    done
    cat >"$dest/README.txt" <<'EOF'
GPU check bundle for runner (built by scripts/gpu-check.sh --bundle).
On the GPU machine (NVIDIA driver and CUDA libraries installed; no Rust, no network):

    bash gpu-check.sh --out RESULTS

writes RESULTS/report.md. It finds libcublas in /usr/local/cuda*/lib64 or a pip
nvidia-cublas; set LD_LIBRARY_PATH if it is elsewhere.
EOF
    echo "bundle: $dest ($(du -sh "$dest" | cut -f1))"
    ls -l "$dest" "$dest/data/mnist"
}

# ------------------------------------------------------------------ the GPU machine's half

REPORT=""
say() { printf '%s\n' "$*" | tee -a "$REPORT"; }

# Seconds since the epoch, with fractions.
now() { date +%s.%N; }

# `runner` with the common arguments; a non-zero exit is reported, not fatal. A step gets
# at most its own limit and what is left of the whole check's (DEADLINE); with less than
# 10 s left it is skipped (RC 125).
# Usage: run_runner LABEL LIMIT_SECONDS ARGS...; sets ELAPSED and RC.
run_runner() {
    local label=$1 limit=$2 start left
    shift 2
    start=$(now)
    left=$(awk -v d="$DEADLINE" -v n="$start" 'BEGIN { printf "%d", d - n }')
    ((left < limit)) && limit=$left
    if ((limit < 10)); then
        echo "gpu-check: $label: skipped, the check's time is used up" >&2
        RC=125 ELAPSED=skipped
        return
    fi
    set +e
    timeout "$limit" "$BIN" --quiet --force --data-dir "$DATA" "$@" >"$LOGS/$label.log" 2>&1
    RC=$?
    set -e
    ELAPSED=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    if ((RC == 124)); then
        echo "gpu-check: $label: stopped after its limit of ${limit}s" >&2
    elif ((RC != 0)); then
        echo "gpu-check: $label: exit $RC; last lines of its log:" >&2
        tail -n 5 "$LOGS/$label.log" >&2
    fi
}

# Largest |a - b| and |a - b| / |b| over the costs of every run of
# experiment folder A found in B; "missing" counts runs without both metrics.csv.
# Prints: runs max_abs max_rel missing
compare_costs() {
    local a=$1 b=$2 run id n=0 missing=0 abs=0 rel=0 line
    for run in "$a"/*/; do
        id=$(basename "$run")
        [[ -f $run/config.toml || -f $run/metrics.csv ]] || continue
        if [[ ! -f $run/metrics.csv || ! -f $b/$id/metrics.csv ]]; then
            missing=$((missing + 1))
            continue
        fi
        n=$((n + 1))
        # Columns by name: the two files may come from runners with and without the
        # clean test cost; every cost both have is compared.
        line=$(awk -F, '
            FNR == 1 { file++; for (c = 1; c <= NF; c++) col[file, $c] = c; next }
            file == 1 { for (c = 1; c <= NF; c++) a[FNR, c] = $c; next }
            {
                split("train_cost test_cost test_cost_clean", names, " ")
                for (k = 1; k <= 3; k++) {
                    ca = col[1, names[k]]; cb = col[2, names[k]]
                    if (!ca || !cb) continue
                    x = a[FNR, ca]; y = $cb; d = x - y; if (d < 0) d = -d
                    r = (y != 0) ? d / (y < 0 ? -y : y) : d
                    if (d > abs) abs = d
                    if (r > rel) rel = r
                }
            }
            END { printf "%.3e %.3e", abs, rel }' "$run/metrics.csv" "$b/$id/metrics.csv")
        abs=$(awk -v x="$abs" -v y="${line% *}" 'BEGIN { print (y > x) ? y : x }')
        rel=$(awk -v x="$rel" -v y="${line#* }" 'BEGIN { print (y > x) ? y : x }')
    done
    printf '%d %.3e %.3e %d\n' "$n" "$abs" "$rel" "$missing"
}

# Steps per second of the runs in folder DIR from their last epoch (warm): each run's
# steps per epoch over that epoch's seconds, summed over runs (they ran at the same
# time), and the mean milliseconds per step. Prints: runs steps_per_s ms_per_step
steps_rate() {
    local dir=$1 steps=$2
    find "$dir" -name metrics.csv | while read -r f; do tail -n 1 "$f"; done |
        awk -F, -v steps="$steps" '
            { n++; rate += steps / $NF; ms += 1000 * $NF / steps }
            END { if (n == 0) print "0 0 0"; else printf "%d %.0f %.3f\n", n, rate, ms / n }'
}

# Highest GPU memory use sampled while the GPU steps ran (MiB), if nvidia-smi samples.
MEMLOG=""
start_memory_sampling() {
    if [[ $DEVICE == cuda* ]] && command -v nvidia-smi >/dev/null; then
        MEMLOG=$LOGS/memory.csv
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 >"$MEMLOG" 2>/dev/null &
        MEMPID=$!
    fi
}
stop_memory_sampling() {
    if [[ -n $MEMLOG ]]; then
        kill "$MEMPID" 2>/dev/null || true
        wait "$MEMPID" 2>/dev/null || true
    fi
}

# Finds libcublas (and the driver's libcuda) for a CUDA build, or says what is missing.
find_libraries() {
    local missing dir
    missing=$(ldd "$BIN" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
    [[ -n $missing ]] || return 0
    for dir in /usr/local/cuda/lib64 /usr/local/cuda-*/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
        $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in ("cu13", "cublas")))' 2>/dev/null); do
        [[ -d $dir ]] || continue
        missing=$(LD_LIBRARY_PATH=$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$BIN" | awk '/not found/ {print $1}' | tr '\n' ' ')
        if [[ -z $missing ]]; then
            export LD_LIBRARY_PATH=$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
            return 0
        fi
    done
    die "the runner binary cannot load: $(ldd "$BIN" | awk '/not found/ {print $1}' | tr '\n' ' ')(install the NVIDIA driver and CUDA's libcublas, or set LD_LIBRARY_PATH)"
}

check() {
    local out=$1
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    REPORT=$out/report.md
    : >"$REPORT"
    if [[ -n $BUNDLE ]]; then
        BIN=${RUNNER_BIN:-$BUNDLE/runner}
        DATA=${RUNNER_DATA_DIR:-$BUNDLE/data}
        EXP=$BUNDLE/experiments
        COMMITTED=$BUNDLE/results/smoke
    else
        BIN=${RUNNER_BIN:-$ROOT/target/release/runner}
        DATA=${RUNNER_DATA_DIR:-$ROOT/data}
        EXP=$ROOT/experiments
        COMMITTED=$ROOT/results/smoke
    fi
    [[ -x $BIN ]] || die "no runner binary at $BIN (run --bundle first, or set RUNNER_BIN)"
    DEVICE=${GPU_CHECK_DEVICE:-cuda}
    local quick=${GPU_CHECK_QUICK:-0} cores work
    cores=$(nproc)
    work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
    LOGS=$out/logs
    mkdir -p "$LOGS"
    [[ $DEVICE == cpu ]] || find_libraries

    # Sizes: the real experiments, or small ones for a dry run.
    # The depth sweep as issue 14 measured it: 10 runs (seeds 1 to 5 of each depth).
    local smoke=() sweep=(--set 'sweep.seed=[1,2,3,4,5]') train=30000 counts=(1 4 16)
    if [[ $quick == 1 ]]; then
        smoke=(--set data.train_examples=500 --set train.epochs=1)
        sweep=(--set data.train_examples=500 --set train.epochs=1 --set 'sweep.seed=[1,2]')
        train=1000
        counts=(1 2)
    fi
    local per_epoch=$((train / 100))
    # Time limits (seconds): per step, generous for an H200 machine, and for the whole
    # check (GPU_CHECK_SECONDS, default 7 minutes), so it ends within its 8.
    local short=60 sweep_limit=180
    DEADLINE=$(awk -v n="$(now)" -v s="${GPU_CHECK_SECONDS:-420}" 'BEGIN { printf "%.0f", n + s }')

    say "# GPU check of runner"
    say ""
    say "$(date -u '+%Y-%m-%d %H:%M UTC'); $("$BIN" --version); device under test: $DEVICE"
    say ""
    say '```'
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total --format=csv 2>&1 | tee -a "$REPORT"
    else
        say "nvidia-smi: not found"
    fi
    say "CPU: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}'), $cores cores"
    say "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    ldd "$BIN" | grep -E 'libcuda|libcublas|libnvrtc' | tee -a "$REPORT" || true
    say '```'
    say ""
    start_memory_sampling
    trap stop_memory_sampling EXIT

    # 1. Correctness: the smoke experiment on the GPU and on the CPU.
    say "## Costs: smoke experiment (GPU against CPU, same seeds)"
    say ""
    run_runner smoke-gpu "$short" --device "$DEVICE" --out "$work/gpu" "${smoke[@]}" "$EXP/smoke.toml"
    local gpu_ok=$RC gpu_time=$ELAPSED
    run_runner smoke-cpu "$short" --device cpu --out "$work/cpu" "${smoke[@]}" "$EXP/smoke.toml"
    local cpu_time=$ELAPSED
    say "| comparison | runs | max abs | max rel | missing |"
    say "|---|---|---|---|---|"
    say "| GPU ($gpu_time s) vs CPU ($cpu_time s) | $(compare_costs "$work/gpu/smoke" "$work/cpu/smoke" | sed 's/ / | /g') |"
    if [[ $quick == 0 && -d $COMMITTED ]]; then
        say "| CPU vs committed results/smoke | $(compare_costs "$work/cpu/smoke" "$COMMITTED" | sed 's/ / | /g') |"
    fi
    if ((gpu_ok != 0)); then
        say ""
        say "The GPU smoke run failed (exit $gpu_ok): see logs/smoke-gpu.log. Nothing else was measured."
        tail -n 20 "$LOGS/smoke-gpu.log" >>"$REPORT"
        save "$work" "$out"
        exit 1
    fi

    # 2. The depth sweep: GPU with its defaults, then all CPU cores.
    say ""
    say "## Depth sweep (experiments/depth_sweep.toml, seeds 1 to 5: 10 runs x 20 epochs): wall time"
    say ""
    say "| device | arguments | seconds | exit |"
    say "|---|---|---|---|"
    run_runner sweep-gpu "$sweep_limit" --device "$DEVICE" --out "$work/sweep-gpu" "${sweep[@]}" "$EXP/depth_sweep.toml"
    local sweep_gpu=$ELAPSED
    say "| GPU | --device $DEVICE | $ELAPSED | $RC |"
    run_runner sweep-cpu "$sweep_limit" --device cpu --jobs "$cores" --out "$work/sweep-cpu" "${sweep[@]}" "$EXP/depth_sweep.toml"
    local sweep_cpu=$ELAPSED
    say "| CPU | --device cpu --jobs $cores | $ELAPSED | $RC |"
    run_runner sweep-gpu-jobs2 "$sweep_limit" --device "$DEVICE" --jobs 2 --out "$work/sweep-gpu2" "${sweep[@]}" "$EXP/depth_sweep.toml"
    say "| GPU | --device $DEVICE --jobs 2 (the two depths' packs side by side) | $ELAPSED | $RC |"
    say ""
    say "CPU / GPU (defaults): $(awk -v c="$sweep_cpu" -v g="$sweep_gpu" 'BEGIN { if (g > 0) printf "%.2fx", c / g }') (target: at least 5x)."
    say "Final costs, GPU vs CPU (runs, max abs, max rel, missing): $(compare_costs "$work/sweep-gpu/depth_sweep" "$work/sweep-cpu/depth_sweep")"

    # 3. One run's step, and steps/s for several runs, vectorised and concurrent.
    say ""
    say "## Steps: 784-256-784, batch 100, $per_epoch steps an epoch, last of 2 epochs (warm)"
    say ""
    cat >"$work/steps.toml" <<EOF
name = "steps"
[data]
dataset = "mnist"
train_examples = $train
[train]
epochs = 2
batch_size = 100
hidden = [256]
[sweep]
seed = [$(seq -s, 1 "${counts[-1]}")]
EOF
    say "| runs | how | total steps/s | ms per step of a run | exit |"
    say "|---|---|---|---|---|"
    local n seeds
    for n in "${counts[@]}"; do
        seeds="sweep.seed=[$(seq -s, 1 "$n")]"
        run_runner "steps-pack$n" "$short" --device "$DEVICE" --pack "$n" --jobs 1 --set "$seeds" --out "$work/pack$n" "$work/steps.toml"
        say "| $n | --pack $n --jobs 1 (vectorised) | $(steps_rate "$work/pack$n" "$per_epoch" | awk '{print $2 " | " $3}') | $RC |"
        if ((n > 1)); then
            run_runner "steps-jobs$n" "$short" --device "$DEVICE" --pack 1 --jobs "$n" --set "$seeds" --out "$work/jobs$n" "$work/steps.toml"
            say "| $n | --pack 1 --jobs $n (concurrent) | $(steps_rate "$work/jobs$n" "$per_epoch" | awk '{print $2 " | " $3}') | $RC |"
        fi
    done

    # 4. Reproducibility: the GPU smoke again, and its runs alone instead of packed.
    say ""
    say "## Reproducibility on the GPU (smoke experiment)"
    say ""
    run_runner smoke-gpu-again "$short" --device "$DEVICE" --out "$work/gpu-again" "${smoke[@]}" "$EXP/smoke.toml"
    run_runner smoke-gpu-alone "$short" --device "$DEVICE" --pack 1 --out "$work/gpu-alone" "${smoke[@]}" "$EXP/smoke.toml"
    say "| comparison | runs | max abs | max rel | missing |"
    say "|---|---|---|---|---|"
    say "| second launch vs first (0 = deterministic) | $(compare_costs "$work/gpu-again/smoke" "$work/gpu/smoke" | sed 's/ / | /g') |"
    say "| alone (--pack 1) vs packed | $(compare_costs "$work/gpu-alone/smoke" "$work/gpu/smoke" | sed 's/ / | /g') |"

    # 5. If time is left: the whole depth sweep (every seed) on the GPU alone.
    if [[ $quick == 0 ]]; then
        say ""
        run_runner sweep-gpu-all "$sweep_limit" --device "$DEVICE" --out "$work/sweep-gpu-all" "$EXP/depth_sweep.toml"
        say "The whole depth sweep ($(find "$work/sweep-gpu-all" -name metrics.csv | wc -l) runs completed) on the GPU with its defaults: $ELAPSED s (exit $RC)."
    fi

    stop_memory_sampling
    if [[ -n $MEMLOG && -s $MEMLOG ]]; then
        say ""
        say "Peak GPU memory while measuring: $(sort -n "$MEMLOG" | tail -1) MiB (sampled every 0.5 s)."
    fi
    save "$work" "$out"
    say ""
    say "Per-run metrics and summaries: $out/runs; logs: $out/logs."
    echo "report: $REPORT" >&2
}

# Keeps what the report came from (metrics, summaries, errors), not the models.
save() {
    local work=$1 out=$2
    (cd "$work" && find . \( -name metrics.csv -o -name summary.csv -o -name error.txt -o -name device.txt \) -print) |
        while read -r f; do
            mkdir -p "$out/runs/$(dirname "$f")"
            cp "$work/$f" "$out/runs/$f"
        done
    rm -rf "$work"
}

main() {
    local mode=check dest="" out=${OUT:-$PWD/gpu-check-out}
    while (($#)); do
        case $1 in
        -h | --help)
            sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        --bundle)
            mode=bundle
            if [[ ${2:-} && ${2:0:1} != - ]]; then
                dest=$2
                shift
            fi
            ;;
        --out)
            out=${2:?--out needs a folder}
            shift
            ;;
        *)
            echo "gpu-check: unknown argument $1 (try --help)" >&2
            exit 2
            ;;
        esac
        shift
    done
    case $mode in
    bundle) bundle "${dest:-$ROOT/target/gpu-bundle}" ;;
    check) check "$out" ;;
    esac
}

main "$@"
