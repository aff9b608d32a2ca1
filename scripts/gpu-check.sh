#!/usr/bin/env bash
# GPU check: build with --features cuda from vendored crates, run the smoke experiment on
# the GPU and on the CPU, print per-run cost differences and per-step times of both.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage:
  scripts/gpu-check.sh --vendor   On a machine that reaches crates.io: vendor every crate
                                  of Cargo.lock into vendor/ (git-ignored), so the GPU host
                                  needs no registry.
  scripts/gpu-check.sh --bundle   As --vendor, and also pack what a GPU host without network
                                  needs into gpu-bundle/ (git-ignored, about 35 MB):
                                  vendor.tar.xz and the MNIST files gzipped (data/mnist/).
                                  Copy the checkout with gpu-bundle/ to the GPU host.
  scripts/gpu-check.sh [--out DIR] [--data-dir DIR]
                                  On the GPU host: build `runner` with `--features cuda`
                                  offline from vendor/ (unpacked from gpu-bundle/ if needed),
                                  run experiments/smoke.toml with --device cuda and with
                                  --device cpu, then print per run the largest absolute and
                                  relative differences of the costs (GPU vs CPU, and the
                                  CPU run vs the committed results/smoke), and the time per
                                  training step on each device from a longer timing run.
  scripts/gpu-check.sh --help     This text.

Options:
  --out DIR       Where results go (default: $OUT if set, else target/gpu-check/out).
  --data-dir DIR  MNIST location (default: gpu-bundle/data if present, else
                  $RUNNER_DATA_DIR, else data/).

The GPU host needs: an NVIDIA GPU and driver (`nvidia-smi` lists it), the CUDA toolkit
(`nvcc` on PATH, `cuda.h` under /usr/include, /usr/local/cuda/include or $CUDA_ROOT),
its libraries libnvrtc, libcublas and libcublasLt, and Rust (cargo). dfdx 0.13.0's kernels
are known to build with CUDA 11.x; with CUDA >= 12.2 on a GPU below compute capability 8.0
they fail (see the README's CUDA section). Nothing here changes cargo's behaviour for normal builds:
the vendored source is passed with --config on the command line only.
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENDOR="$ROOT/vendor"
BUNDLE="$ROOT/gpu-bundle"
TARGET="$ROOT/target/gpu-check"
SMOKE=experiments/smoke.toml

die() {
    echo "gpu-check: $*" >&2
    exit 1
}

vendor() {
    command -v cargo >/dev/null || die "cargo is not on PATH"
    echo "vendoring every crate of Cargo.lock into $VENDOR ..."
    cargo vendor --locked --quiet "$VENDOR" >/dev/null
    echo "vendor/: $(du -sh "$VENDOR" | cut -f1)"
}

bundle() {
    vendor
    local data
    data=$(data_dir_default)
    mkdir -p "$BUNDLE/data/mnist"
    echo "packing $BUNDLE/vendor.tar.xz ..."
    tar -C "$VENDOR" -cf - . | xz -T0 -6 >"$BUNDLE/vendor.tar.xz"
    local f name
    for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        if [[ -f "$data/mnist/$name.gz" ]]; then
            cp "$data/mnist/$name.gz" "$BUNDLE/data/mnist/"
        elif [[ -f "$data/mnist/$name" ]]; then
            gzip -9 -c "$data/mnist/$name" >"$BUNDLE/data/mnist/$name.gz"
        else
            die "no $data/mnist/$name(.gz): run \`runner\` once on this machine to download MNIST, or pass --data-dir"
        fi
    done
    for f in "$BUNDLE"/vendor.tar.xz "$BUNDLE"/data/mnist/*; do
        echo "  $(du -h "$f" | cut -f1)  ${f#"$ROOT"/}"
    done
    echo "gpu-bundle/: $(du -sh "$BUNDLE" | cut -f1)"
}

data_dir_default() {
    if [[ -n "${DATA_DIR:-}" ]]; then
        echo "$DATA_DIR"
    elif [[ -d "$BUNDLE/data/mnist" ]]; then
        echo "$BUNDLE/data"
    else
        echo "${RUNNER_DATA_DIR:-$ROOT/data}"
    fi
}

# Checks what a CUDA build and run need, and says what is missing.
check_host() {
    command -v cargo >/dev/null || die "cargo is not on PATH (install Rust: https://rustup.rs)"
    command -v nvidia-smi >/dev/null ||
        die "nvidia-smi is not on PATH: no NVIDIA driver here? dfdx's build script calls it to read the GPU's compute capability"
    nvidia-smi -L >/dev/null 2>&1 || die "nvidia-smi finds no GPU or no driver: $(nvidia-smi -L 2>&1 | head -1)"
    command -v nvcc >/dev/null ||
        die "nvcc is not on PATH: install the CUDA toolkit (or add /usr/local/cuda/bin to PATH); dfdx compiles its kernels with it"
    local root found=""
    for root in "${CUDA_ROOT:-}" "${CUDA_PATH:-}" "${CUDA_TOOLKIT_ROOT_DIR:-}" /usr /usr/local/cuda /opt/cuda /usr/lib/cuda; do
        if [[ -n "$root" && -f "$root/include/cuda.h" ]]; then
            found=$root
            break
        fi
    done
    [[ -n "$found" ]] || die "no include/cuda.h under /usr, /usr/local/cuda, /opt/cuda, /usr/lib/cuda or \$CUDA_ROOT: install the CUDA toolkit's headers or set CUDA_ROOT"

    echo "== host"
    nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total --format=csv
    nvcc --version | tail -n 2
    echo "cuda.h: $found/include/cuda.h"
    local release cap
    release=$(nvcc --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
    cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
    if [[ -n "$release" && -n "$cap" ]]; then
        local major=${release%.*} minor=${release#*.}
        if ((major > 12 || (major == 12 && minor >= 2))) && ((cap < 80)); then
            echo "gpu-check: warning: CUDA $release headers define __hmax_nan/__hmin_nan, which dfdx 0.13.0's kernels also define below compute capability 8.0 (this GPU: $cap); expect the build to fail. CUDA 11.x works (README, CUDA section)." >&2
        fi
    fi
}

# Vendored crates: vendor/, or unpacked from gpu-bundle/vendor.tar.xz.
ensure_vendor() {
    if [[ ! -d "$VENDOR" ]]; then
        if [[ -f "$BUNDLE/vendor.tar.xz" ]]; then
            echo "unpacking $BUNDLE/vendor.tar.xz into vendor/ ..."
            mkdir -p "$VENDOR"
            xz -dc "$BUNDLE/vendor.tar.xz" | tar -C "$VENDOR" -xf -
        else
            die "no vendor/ and no gpu-bundle/vendor.tar.xz: run \`scripts/gpu-check.sh --vendor\` (or --bundle) on a machine that reaches crates.io first"
        fi
    fi
}

build() {
    echo "== build (release, --features cuda, offline from vendor/)"
    cargo build --release --offline --locked --features cuda \
        --target-dir "$TARGET" \
        --config 'source.crates-io.replace-with="vendored-sources"' \
        --config "source.vendored-sources.directory=\"$VENDOR\""
    BIN="$TARGET/release/runner"
    # cudarc links libcuda, libnvrtc, libcublas, libcublasLt dynamically: a missing one
    # stops the binary before main.
    local missing
    missing=$(ldd "$BIN" | awk '/not found/ {print $1}' | tr '\n' ' ')
    [[ -z "$missing" ]] || die "the binary cannot load: $missing(add the CUDA libraries' folder to LD_LIBRARY_PATH)"
}

# Prints, per run of DIR_A, the largest |a - b| and |a - b| / |a| over the train_cost and
# test_cost columns of metrics.csv (a from DIR_A, b from DIR_B); fails if one is missing.
compare() {
    local a=$1 b=$2 label=$3 worst=0
    echo "== costs: $label"
    printf '%-32s %8s %12s %12s\n' run_id epochs max_abs max_rel
    local run id
    for run in "$a"/*/; do
        id=$(basename "$run")
        if [[ ! -f "$run/metrics.csv" || ! -f "$b/$id/metrics.csv" ]]; then
            printf '%-32s missing metrics.csv\n' "$id"
            worst=1
            continue
        fi
        paste -d, "$run/metrics.csv" "$b/$id/metrics.csv" | awk -F, -v id="$id" '
            NR == 1 { next }
            {
                n++
                for (c = 2; c <= 3; c++) {
                    x = $c; y = $(c + 4); d = x - y; if (d < 0) d = -d
                    r = (x != 0) ? d / (x < 0 ? -x : x) : d
                    if (d > abs) abs = d
                    if (r > rel) rel = r
                }
            }
            END { printf "%-32s %8d %12.3e %12.3e\n", id, n, abs, rel }'
    done
    return $worst
}

# Per run: seconds per training step of the last epoch (its wall time over its steps; it
# includes one test-set evaluation) and of the first (with the device's warm-up).
step_times() {
    local dir=$1 label=$2 steps=$3
    echo "== time per step: $label ($steps steps per epoch)"
    printf '%-32s %14s %14s\n' run_id first_ms last_ms
    local run
    for run in "$dir"/*/; do
        [[ -f "$run/metrics.csv" ]] || continue
        awk -F, -v id="$(basename "$run")" -v steps="$steps" '
            NR == 2 { first = $4 }
            NR > 1 { last = $4 }
            END { printf "%-32s %14.3f %14.3f\n", id, 1000 * first / steps, 1000 * last / steps }' \
            "$run/metrics.csv"
    done
}

main() {
    cd "$ROOT"
    local out="${OUT:-$TARGET/out}" mode=check
    DATA_DIR=""
    while (($#)); do
        case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        --vendor) mode=vendor ;;
        --bundle) mode=bundle ;;
        --out)
            out=${2:?--out needs a folder}
            shift
            ;;
        --data-dir)
            DATA_DIR=${2:?--data-dir needs a folder}
            shift
            ;;
        *)
            usage >&2
            exit 2
            ;;
        esac
        shift
    done
    case $mode in
    vendor)
        vendor
        return
        ;;
    bundle)
        bundle
        return
        ;;
    esac
    local data
    data=$(data_dir_default)
    mkdir -p "$out"
    out=$(cd "$out" && pwd)

    check_host
    ensure_vendor
    build

    local common=(--quiet --force --data-dir "$data")
    echo "== smoke on the GPU and on the CPU"
    "$BIN" "${common[@]}" --device cuda --out "$out/gpu" "$SMOKE"
    "$BIN" "${common[@]}" --device cpu --out "$out/cpu" "$SMOKE"
    echo "summary.csv device column (GPU run):"
    cut -d, -f1,7 "$out/gpu/smoke/summary.csv"

    # Longer epochs for step times: 600 steps, so the test-set evaluation is a few percent.
    local timing=(--set data.train_examples=60000 --set train.epochs=2 --set 'sweep.seed=[1]')
    echo "== timing runs (60000 images, 2 epochs, seed 1)"
    "$BIN" "${common[@]}" "${timing[@]}" --device cuda --out "$out/timing-gpu" "$SMOKE"
    "$BIN" "${common[@]}" "${timing[@]}" --device cpu --jobs 1 --out "$out/timing-cpu" "$SMOKE"

    local status=0
    compare "$out/cpu/smoke" "$out/gpu/smoke" "GPU against CPU, same seeds (relative to CPU)" || status=1
    compare "$ROOT/results/smoke" "$out/cpu/smoke" "CPU (this cuda build) against the committed results/smoke" || status=1
    step_times "$out/timing-gpu/smoke" "GPU" 600
    step_times "$out/timing-cpu/smoke" "CPU, one run at a time" 600
    echo "results: $out"
    return $status
}

# Sourcing the script (for its functions) runs nothing.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
