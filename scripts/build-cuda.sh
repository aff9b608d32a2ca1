#!/usr/bin/env bash
# Builds runner with `--features cuda` on a machine without a GPU (a cluster's login or CI
# node, a laptop), for the GPU named by CUDA_COMPUTE_CAP, and strips it. See docs/gpu.md.
#
#   scripts/build-cuda.sh [--out DIR]        (from anywhere; default DIR: target/cuda)
#
# Environment:
#   CUDA_COMPUTE_CAP  the GPU's compute capability without the dot: 90 (H100, H200; the
#                     default), 80 (A100), 89 (L4, RTX 40xx), 86 (A10, RTX 30xx), ...
#   CUDA_ROOT         a CUDA toolkit (bin/nvcc, include/cuda.h, lib64) to build against.
#                     Without it: `nvcc` on PATH, else CUDA 13.0 from PyPI wheels
#                     (downloaded once, about 600 MB, into RUNNER_CUDA_SDK).
#   RUNNER_CUDA_SDK   where the wheels and the build's helpers go (default target/cuda-sdk).
#
# What it takes care of:
# - dfdx 0.13's build script runs `nvidia-smi --query-gpu=compute_cap --format=csv`
#   before it reads CUDA_COMPUTE_CAP, and stops if that fails. Where nvidia-smi does not
#   answer, a stand-in placed first on PATH for the build answers CUDA_COMPUTE_CAP.
# - cudarc links libcuda, which only the NVIDIA driver installs. Where the toolkit has no
#   link-time stub (lib64/stubs/libcuda.so; PyPI has none), one is made from the entry
#   points cudarc 0.9.15 declares; each returns CUDA_ERROR_STUB_LIBRARY, and the GPU
#   machine's driver library replaces it at run time.
# - The binary needs at run time only libcuda.so.1 (the driver) and libcublas.so.13 with
#   libcublasLt.so.13 (the CUDA toolkit's lib64, or the nvidia-cublas wheel): the linker
#   drops the libraries nothing calls. With another toolkit the soname follows its version.
# - The target folder is target/cuda-build, so the normal build's artefacts stay valid.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=$ROOT/target/cuda
while (($#)); do
    case $1 in
    --out)
        DEST=${2:?--out needs a folder}
        shift
        ;;
    -h | --help)
        sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "build-cuda: unknown argument $1 (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done

die() {
    echo "build-cuda: $*" >&2
    exit 1
}

CAP=${CUDA_COMPUTE_CAP:-90}
[[ $CAP =~ ^[0-9]{2,3}$ ]] || die "CUDA_COMPUTE_CAP=$CAP: expected digits without a dot, e.g. 90 for compute capability 9.0"
SDK=${RUNNER_CUDA_SDK:-$ROOT/target/cuda-sdk}
mkdir -p "$SDK" "$DEST"
SDK=$(cd "$SDK" && pwd)

# Versions of the PyPI wheels: CUDA 13.0, which the NVIDIA 580 driver series runs.
WHEELS=(nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88
    nvidia-cuda-cccl==13.0.85 nvidia-cuda-runtime==13.0.96 nvidia-cublas==13.0.2.14
    nvidia-cuda-nvrtc==13.0.88)

# A toolkit from PyPI, laid out as cudarc's and dfdx's build scripts expect.
wheel_toolkit() {
    local r=$SDK/site/nvidia/cu13
    if [[ ! -x $r/bin/nvcc ]]; then
        command -v python3 >/dev/null || die "no CUDA toolkit (set CUDA_ROOT or put nvcc on PATH) and no python3 to fetch one from PyPI"
        echo "fetching CUDA 13.0 from PyPI into $SDK/wheels (once) ..." >&2
        python3 -m pip download -q --no-deps -d "$SDK/wheels" "${WHEELS[@]}" ||
            die "pip could not download the CUDA wheels (${WHEELS[*]}); set CUDA_ROOT to a local toolkit instead"
        local w
        for w in "$SDK"/wheels/nvidia_{cuda_nvcc,cuda_crt,nvvm,cuda_cccl,cuda_runtime,cublas,cuda_nvrtc}-*.whl; do
            python3 -m zipfile -e "$w" "$SDK/site"
        done
        chmod +x "$r"/bin/{nvcc,ptxas,cudafe++,fatbinary,nvlink,bin2c} "$r/nvvm/bin/cicc"
        mkdir -p "$r/lib64" "$r/targets"
        ln -sfn .. "$r/targets/x86_64-linux" # nvcc.profile's $(TOP)/targets/x86_64-linux/include
        local l
        for l in cublas cublasLt nvrtc; do ln -sf "../lib/lib$l.so.13" "$r/lib64/lib$l.so"; done
    fi
    echo "$r"
}

if [[ -n ${CUDA_ROOT:-} ]]; then
    [[ -x $CUDA_ROOT/bin/nvcc && -f $CUDA_ROOT/include/cuda.h ]] ||
        die "CUDA_ROOT=$CUDA_ROOT has no bin/nvcc or include/cuda.h"
    R=$CUDA_ROOT
elif command -v nvcc >/dev/null && [[ -f $(dirname "$(dirname "$(command -v nvcc)")")/include/cuda.h ]]; then
    R=$(dirname "$(dirname "$(command -v nvcc)")")
else
    R=$(wheel_toolkit)
fi
export PATH=$R/bin:$PATH CUDA_ROOT=$R CUDA_COMPUTE_CAP=$CAP
unset CUDA_PATH CUDA_TOOLKIT_ROOT_DIR CUDNN_LIB
nvcc --list-gpu-code | grep -qx "sm_$CAP" ||
    die "this nvcc ($(nvcc --version | tail -1)) cannot compile for sm_$CAP; its targets: $(nvcc --list-gpu-code | tr '\n' ' ')"

# dfdx's build script asks nvidia-smi first; answer for the GPU we build for.
if ! nvidia-smi --query-gpu=compute_cap --format=csv 2>/dev/null | head -1 | grep -qx compute_cap; then
    mkdir -p "$SDK/fakebin"
    cat >"$SDK/fakebin/nvidia-smi" <<EOF
#!/bin/sh
# Build-time stand-in written by scripts/build-cuda.sh: answers dfdx 0.13's build script.
case "\$*" in
*compute_cap*) printf 'compute_cap\n%s\n' "${CAP%?}.${CAP: -1}" ;;
*) echo "stand-in nvidia-smi (no GPU here)" >&2; exit 9 ;;
esac
EOF
    chmod +x "$SDK/fakebin/nvidia-smi"
    export PATH=$SDK/fakebin:$PATH
fi

# cudarc links -lcuda from lib64 or lib64/stubs: a stub where the toolkit has none.
if [[ ! -e $R/lib64/stubs/libcuda.so && ! -e $R/lib64/libcuda.so ]]; then
    CUDARC=$(find "${CARGO_HOME:-$HOME/.cargo}"/registry/src -maxdepth 2 -name cudarc-0.9.15 | head -1)
    if [[ -z $CUDARC ]]; then
        (cd "$ROOT" && cargo fetch --locked >/dev/null)
        CUDARC=$(find "${CARGO_HOME:-$HOME/.cargo}"/registry/src -maxdepth 2 -name cudarc-0.9.15 | head -1)
    fi
    [[ -n $CUDARC ]] || die "cudarc 0.9.15's source is not in the cargo registry (cargo fetch failed?)"
    mkdir -p "$SDK/stub"
    grep -oE 'pub fn cu[A-Za-z0-9_]+' "$CUDARC/src/driver/sys.rs" | awk '{print $3}' | sort -u >"$SDK/stub/syms.txt"
    {
        echo '/* Link-time stand-in for libcuda.so.1 (scripts/build-cuda.sh): every entry point'
        echo '   cudarc 0.9.15 declares returns CUDA_ERROR_STUB_LIBRARY (34). */'
        echo 'int cuGetErrorString(int e, const char **s) { *s = e == 34 ? "CUDA driver stub library (no NVIDIA driver on this machine)" : "unknown (stub libcuda)"; return 0; }'
        echo 'int cuGetErrorName(int e, const char **s) { *s = e == 34 ? "CUDA_ERROR_STUB_LIBRARY" : "CUDA_ERROR_UNKNOWN"; return 0; }'
        grep -vxE 'cuGetErrorString|cuGetErrorName' "$SDK/stub/syms.txt" | while read -r s; do echo "int $s(void) { return 34; }"; done
    } >"$SDK/stub/libcuda_stub.c"
    gcc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$SDK/stub/libcuda.so.1" "$SDK/stub/libcuda_stub.c"
    mkdir -p "$R/lib64/stubs"
    ln -sf "$SDK/stub/libcuda.so.1" "$R/lib64/stubs/libcuda.so"
fi

echo "building runner --features cuda for sm_$CAP with $(nvcc --version | tail -1)" >&2
(cd "$ROOT" && cargo build --release --locked --features cuda --target-dir "$ROOT/target/cuda-build")
strip -o "$DEST/runner" "$ROOT/target/cuda-build/release/runner"
NEEDED=$(readelf -d "$DEST/runner" | awk '/NEEDED/ {gsub(/[][]/, "", $5); printf "%s ", $5}')
echo "$DEST/runner needs: $NEEDED" >&2
# dfdx's reshape (of a non-contiguous tensor), stack, concat and to_dtype compile CUDA
# kernels at run time with NVRTC, against this machine's header path: on a GPU machine
# they would fail. Nothing in runner may call them; libnvrtc among the needed libraries
# says something does.
if [[ $NEEDED == *libnvrtc* ]]; then
    die "the binary links libnvrtc: some dfdx operation it calls compiles CUDA kernels at run time, which fails on a machine without this one's CUDA headers; see src/model/pack.rs"
fi
